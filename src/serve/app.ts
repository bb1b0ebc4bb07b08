/**
 * The HTTP application: security headers on everything, then the Host check, the static
 * files and login (open to all), the token check, the cross-origin write check, and the
 * routes. Errors become a 4xx/5xx page or JSON body here, never a crash.
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import { secureHeaders } from 'hono/secure-headers'
import { apiRoutes } from './api.js'
import { editRoutes } from './edit.js'
import { authRoutes, requireToken } from './auth.js'
import { chartRoutes } from './chart-routes.js'
import type { ServeContext } from './context.js'
import { hostGuard, writeGuard } from './csrf.js'
import { exportRoutes } from './export.js'
import { HttpError, toErrorBody } from './http-error.js'
import { pageRoutes } from './pages.js'
import { staticRoutes } from './static.js'
import { errorPage } from './views/misc.js'

export interface AppOptions {
  /** Host headers accepted (lower case, with port); undefined accepts any (a token guards the server). */
  allowedHosts: () => Set<string> | undefined
}

const MAX_BODY = 256 * 1024

export function createApp(ctx: ServeContext, opts: AppOptions): Hono {
  const app = new Hono()
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      crossOriginResourcePolicy: 'same-origin',
      crossOriginOpenerPolicy: 'same-origin',
      referrerPolicy: 'no-referrer',
      // Served over plain http (or behind a proxy that adds its own).
      strictTransportSecurity: false,
      // A route may set a stricter header of its own (the raw-text view adds `sandbox`).
      overwrite: false,
    }),
  )
  app.use('*', async (c, next) => {
    await next()
    // Counts and entries change all the time, and may be sensitive: never cached.
    if (!c.req.path.startsWith('/static/')) c.header('Cache-Control', 'no-store')
  })
  app.use('*', hostGuard(opts.allowedHosts))
  app.use('*', bodyLimit({ maxSize: MAX_BODY, onError: () => { throw new HttpError(413, `request body over ${MAX_BODY / 1024} KiB`, 'DLQ_TOO_LARGE') } }))
  app.use('*', writeGuard())
  staticRoutes(app)
  authRoutes(app, ctx)
  app.use('*', requireToken(ctx))
  app.get('/metrics', async (c) => {
    const text = await ctx.metrics.render()
    return c.body(text, 200, { 'Content-Type': ctx.metrics.contentType })
  })
  chartRoutes(app, ctx)
  apiRoutes(app, ctx)
  editRoutes(app, ctx)
  exportRoutes(app, ctx)
  pageRoutes(app, ctx)

  app.notFound((c) => {
    const err = new HttpError(404, `no such ${c.req.path.startsWith('/api/') ? 'endpoint' : 'page'}: ${c.req.path.slice(0, 200)}`, 'DLQ_NOT_FOUND')
    return respondError(c, ctx, err)
  })
  app.onError((err, c) => respondError(c, ctx, err))
  return app
}

function respondError(c: import('hono').Context, ctx: ServeContext, err: unknown): Response {
  // hono's own middleware (csrf) throws these with a ready response; give it our shape.
  const e = err instanceof HTTPException ? new HttpError(err.status === 403 ? 403 : 400, err.status === 403 ? 'cross-origin write refused' : err.message, 'DLQ_HTTP') : err
  const body = toErrorBody(e)
  const status = body.status as 400
  const wantsHtml = (c.req.header('accept') ?? '').includes('text/html')
  if (c.req.path.startsWith('/api/') || c.req.path === '/metrics' || !wantsHtml) return c.json(body, status)
  return c.html(errorPage(ctx, body.status, body.error), status)
}
