/**
 * Other sites must not be able to act through a browser that can reach this server.
 * - Writes are POSTs only; GET and HEAD never change anything.
 * - A write whose Origin (or Sec-Fetch-Site) says it comes from another site is refused.
 *   hono's csrf middleware does that for form posts; the API's writes must be JSON, which a
 *   cross-site page can only send after a CORS preflight this server never approves.
 * - Bound to loopback without a token, the Host header must name this server: a page on
 *   another site that re-points its own name at 127.0.0.1 (DNS rebinding) is "same-origin"
 *   to the browser, but its requests still carry that other name.
 */
import type { MiddlewareHandler } from 'hono'
import { csrf } from 'hono/csrf'
import { HttpError } from './http-error.js'

const SAFE = /^(GET|HEAD|OPTIONS)$/

export function hostGuard(allowed: () => Set<string> | undefined): MiddlewareHandler {
  return async (c, next) => {
    const set = allowed()
    const host = (c.req.header('host') ?? '').toLowerCase()
    if (set && !set.has(host)) {
      throw new HttpError(421, `this server answers as ${[...set][0]}, not ${JSON.stringify(host.slice(0, 100))} (DNS rebinding protection)`, 'DLQ_BAD_HOST')
    }
    return next()
  }
}

export function writeGuard(): MiddlewareHandler {
  const forms = csrf()
  return async (c, next) => {
    if (SAFE.test(c.req.method)) return next()
    const origin = c.req.header('origin')
    if (origin !== undefined && origin !== new URL(c.req.url).origin) {
      throw new HttpError(403, 'cross-origin write refused', 'DLQ_CSRF')
    }
    const site = c.req.header('sec-fetch-site')
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'cross-site write refused', 'DLQ_CSRF')
    if (c.req.method === 'POST' && c.req.path.startsWith('/api/') && !/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      throw new HttpError(415, 'API writes take a JSON body (Content-Type: application/json)', 'DLQ_CONTENT_TYPE')
    }
    return forms(c, next)
  }
}
