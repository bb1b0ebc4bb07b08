/** The HTML pages. Every one is a GET that only reads. */
import type { Hono } from 'hono'
import type { ServeContext } from './context.js'
import { listPage, queryOf } from './api.js'
import { HttpError, badRequest, notFound, toErrorBody } from './http-error.js'
import { overview } from './overview.js'
import { parseGroupBy } from './groups.js'
import { type FilterParams, defaultOrder, parseFilterParams, toSourceFilter } from './query.js'
import { entriesPage } from './views/entries.js'
import { entryPage } from './views/entry.js'
import { overviewPage } from './views/overview.js'

/** The filter resolved once (relative times made absolute), for the action buttons to send (JSON drops what is undefined). */
function actionFilter(fp: FilterParams): Record<string, unknown> {
  const { since, until } = toSourceFilter(fp, Date.now())
  return { ...fp, re: fp.re || undefined, since: since?.toString(), until: until?.toString() }
}

export function pageRoutes(app: Hono, ctx: ServeContext): void {
  app.get('/', async (c) => c.html(overviewPage(ctx, await overview(ctx))))

  app.get('/logs/:key', (c) => c.redirect(`/logs/${encodeURIComponent(ctx.source(c.req.param('key')).key)}/entries?kind=permanent`, 303))

  app.get('/logs/:key/entries', async (c) => {
    const source = ctx.source(c.req.param('key'))
    const q = queryOf(c)
    try {
      const r = await listPage(source, q, c.req.raw.signal)
      return c.html(entriesPage(ctx, { source, filter: r.fp, page: r.pg, rows: r.rows, more: r.more, actionFilter: actionFilter(r.fp), groupBy: parseGroupBy(q) }))
    } catch (err) {
      const body = toErrorBody(err)
      if (body.status !== 400) throw err
      // Keep the form (with what was typed) so the mistake can be fixed in place.
      let fp: FilterParams
      try {
        fp = parseFilterParams(q)
      } catch {
        fp = { kind: 'retry', re: false }
      }
      const pg = { order: q.order === 'oldest' || q.order === 'newest' ? q.order : defaultOrder(fp.kind), page: 1, size: 50 }
      return c.html(entriesPage(ctx, { source, filter: fp, page: pg, rows: [], more: false, error: body.error }), 400)
    }
  })

  app.get('/logs/:key/entry', async (c) => {
    const source = ctx.source(c.req.param('key'))
    const e = await source.entry(c.req.query('ref') ?? '')
    if (!e) throw notFound('no entry at that position any more (a replay, requeue or purge has rewritten or removed its file); go back to the list and open it again')
    return c.html(entryPage(ctx, source, e, await source.audit(e.ref)))
  })

  // The whole of a long value, as plain text that no browser renders or sniffs.
  app.get('/logs/:key/entry/raw', async (c) => {
    const source = ctx.source(c.req.param('key'))
    const part = c.req.query('part') ?? 'payload'
    if (part !== 'payload' && part !== 'reason' && part !== 'line') throw badRequest('part: expected payload, reason or line')
    const e = await source.entry(c.req.query('ref') ?? '')
    if (!e) throw notFound('no entry at that position any more')
    const text =
      part === 'line' ? e.line : part === 'reason' ? (e.reason ?? '') : e.kind === 'corrupt' ? (e.raw ?? '') : (JSON.stringify(e.payload, null, 2) ?? '')
    c.header('Content-Security-Policy', "sandbox; default-src 'none'")
    c.header('Content-Disposition', 'inline; filename="entry.txt"')
    return c.text(text)
  })

  app.get('/logs/:key/*', () => {
    throw new HttpError(404, 'no such page')
  })
}
