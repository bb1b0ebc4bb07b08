/**
 * With --token every request must carry it: `Authorization: Bearer <token>` (scripts,
 * Prometheus), or the session cookie the login form sets. The cookie holds an HMAC of the
 * token, not the token: it is HttpOnly (no script reads it), SameSite=Strict (no other site
 * sends it) and works only as long as the server keeps that token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Context, Hono, MiddlewareHandler } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import type { ServeContext } from './context.js'
import { HttpError } from './http-error.js'
import { loginPage } from './views/misc.js'

export const SESSION_COOKIE = 'dletter_session'

function sessionValue(token: string): string {
  return createHmac('sha256', token).update('dletter-serve-session-v1').digest('base64url')
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function isAuthorized(c: Context, token: string): boolean {
  const auth = c.req.header('authorization')
  if (auth !== undefined) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(auth)
    return m !== null && same(m[1], token)
  }
  const cookie = getCookie(c, SESSION_COOKIE)
  return cookie !== undefined && same(cookie, sessionValue(token))
}

/** Only a path on this server: never `//evil.example` or a full URL. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) && next.length < 2000 ? next : '/'
}

/** Pages send a person to the login form; the API and /metrics answer 401. */
export function requireToken(ctx: ServeContext): MiddlewareHandler {
  return async (c, next) => {
    if (ctx.token === undefined || isAuthorized(c, ctx.token)) return next()
    const p = c.req.path
    if (c.req.method === 'GET' && !p.startsWith('/api/') && p !== '/metrics') {
      const url = new URL(c.req.url)
      return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303)
    }
    c.header('WWW-Authenticate', 'Bearer realm="dletter"')
    throw new HttpError(401, 'this server needs its token: send Authorization: Bearer <token>, or log in at /login', 'DLQ_UNAUTHORIZED')
  }
}

export function authRoutes(app: Hono, ctx: ServeContext): void {
  app.get('/login', (c) => {
    if (ctx.token === undefined) return c.redirect('/', 303)
    return c.html(loginPage(safeNext(c.req.query('next')), false))
  })
  app.post('/login', async (c) => {
    if (ctx.token === undefined) return c.redirect('/', 303)
    const body = await c.req.parseBody()
    const next = safeNext(body.next)
    if (typeof body.token !== 'string' || !same(body.token, ctx.token)) return c.html(loginPage(next, true), 401)
    setCookie(c, SESSION_COOKIE, sessionValue(ctx.token), {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      // Only over https: a plain-http cookie marked Secure would never come back.
      secure: new URL(c.req.url).protocol === 'https:',
    })
    return c.redirect(next, 303)
  })
  app.post('/logout', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: '/' })
    return c.redirect(ctx.token === undefined ? '/' : '/login', 303)
  })
}
