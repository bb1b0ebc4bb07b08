/** /static/app.js and /static/app.css: the only script and stylesheet the CSP lets a page load. */
import { createHash } from 'node:crypto'
import type { Hono } from 'hono'
import { APP_CSS } from './assets/app.css.js'
import { APP_JS } from './assets/app.js.js'
import { EDIT_JS } from './assets/edit.js.js'

const FILES: Record<string, { body: string; type: string; etag: string }> = {
  'app.js': { body: APP_JS, type: 'text/javascript; charset=utf-8', etag: etagOf(APP_JS) },
  'edit.js': { body: EDIT_JS, type: 'text/javascript; charset=utf-8', etag: etagOf(EDIT_JS) },
  'app.css': { body: APP_CSS, type: 'text/css; charset=utf-8', etag: etagOf(APP_CSS) },
}

function etagOf(s: string): string {
  return `"${createHash('sha256').update(s).digest('base64url').slice(0, 16)}"`
}

export function staticRoutes(app: Hono): void {
  app.get('/static/:name', (c) => {
    const f = Object.hasOwn(FILES, c.req.param('name')) ? FILES[c.req.param('name')] : undefined
    if (!f) return c.notFound()
    c.header('Cache-Control', 'no-cache')
    c.header('ETag', f.etag)
    if (c.req.header('if-none-match') === f.etag) return c.body(null, 304)
    return c.body(f.body, 200, { 'Content-Type': f.type })
  })
}
