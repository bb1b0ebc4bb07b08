/**
 * The JSON API under /api/ (the pages use it; so can scripts). Reads are GETs; requeue and
 * purge are POSTs with a JSON body, read-only unless the server runs with --allow-writes,
 * and answer a dry run at once or start a job that /api/jobs/<id> reports on.
 */
import type { Progress } from '../format/model.js'
import type { Context, Hono } from 'hono'
import type { ServeContext } from './context.js'
import { toRow } from './entry-row.js'
import { badRequest, HttpError, notFound } from './http-error.js'
import { groupLinks, overview } from './overview.js'
import { parseGroupBy } from './groups.js'
import { parseFilterParams, parseIds, parsePageParams, toSourceFilter } from './query.js'
import type { Source } from './backend-source.js'
import type { SourceFilter } from './sources.js'

/** Query parameters as one record (a repeated name keeps its first value). */
export function queryOf(c: Context): Record<string, string> {
  return Object.fromEntries(new URL(c.req.url).searchParams)
}

export async function listPage(source: Source, q: Record<string, unknown>, signal?: AbortSignal) {
  const fp = parseFilterParams(q)
  const pg = parsePageParams(q, fp.kind)
  const filter = toSourceFilter(fp, Date.now())
  const got = await source.list({ filter, order: pg.order, skip: (pg.page - 1) * pg.size, limit: pg.size + 1, signal })
  return { fp, pg, filter, more: got.length > pg.size, rows: got.slice(0, pg.size).map(toRow) }
}

/** The request's JSON object, with only the `keys` given, and its `flags` true or false. */
export async function jsonBody(c: Context, keys: ReadonlySet<string>, flags: readonly string[]): Promise<Record<string, unknown>> {
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    throw badRequest('the body is not valid JSON')
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object')
  const o = body as Record<string, unknown>
  for (const k of Object.keys(o)) if (!keys.has(k)) throw badRequest(`unknown field ${JSON.stringify(k.slice(0, 50))}`)
  for (const k of flags) if (o[k] !== undefined && typeof o[k] !== 'boolean') throw badRequest(`${k}: expected true or false`)
  return o
}

const ACTION_KEYS = new Set(['kind', 'log', 'reason', 're', 'id', 'payload', 'host', 'attempt', 'since', 'until', 'ids', 'dryRun', 'resetAttempts'])

function actionFilter(body: Record<string, unknown>): { filter: SourceFilter; dryRun: boolean; resetAttempts: boolean } {
  const strings = Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'ids').map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]))
  const filter = toSourceFilter(parseFilterParams(strings), Date.now())
  const ids = parseIds(body.ids)
  if (ids) {
    if (filter.id !== undefined) throw badRequest('give either id (a filter) or ids (the selected entries), not both')
    filter.id = ids
  }
  return { filter, dryRun: body.dryRun !== false, resetAttempts: body.resetAttempts === true }
}

export function requireWrites(ctx: ServeContext): void {
  if (!ctx.allowWrites) throw new HttpError(403, 'this server is read-only: start dletter serve with --allow-writes to requeue or purge', 'DLQ_READ_ONLY')
}

export function apiRoutes(app: Hono, ctx: ServeContext): void {
  app.get('/api/sources', (c) => c.json(ctx.sources.map((s) => ({ key: s.key, label: s.label, kind: s.kind, hasHosts: s.hasHosts }))))

  app.get('/api/overview', async (c) => c.json(await overview(ctx)))

  app.get('/api/logs/:key/counts', async (c) => c.json(await ctx.source(c.req.param('key')).counts()))

  app.get('/api/logs/:key/entries', async (c) => {
    const r = await listPage(ctx.source(c.req.param('key')), queryOf(c), c.req.raw.signal)
    return c.json({ kind: r.fp.kind, order: r.pg.order, page: r.pg.page, size: r.pg.size, more: r.more, entries: r.rows })
  })

  app.get('/api/logs/:key/groups', async (c) => {
    const source = ctx.source(c.req.param('key'))
    const q = queryOf(c)
    const fp = parseFilterParams(q)
    const groupBy = parseGroupBy(q)
    const g = await source.groups(toSourceFilter(fp, Date.now()), c.req.raw.signal, groupBy)
    // A group links to a reason filter, which matches the last reason: by first reason, no links.
    return c.json({ ...g, groupBy, groups: groupLinks(g.groups, fp.kind).map((l) => (groupBy === 'last' ? l : { ...l, query: undefined })) })
  })

  app.get('/api/logs/:key/entry', async (c) => {
    const source = ctx.source(c.req.param('key'))
    const e = await source.entry(c.req.query('ref') ?? '')
    if (!e) throw notFound('no entry at that position any more (a replay, requeue or purge has rewritten or removed its file)')
    return c.json(e)
  })

  for (const op of ['requeue', 'purge'] as const) {
    app.post(`/api/logs/:key/${op}`, async (c) => {
      requireWrites(ctx)
      const source = ctx.source(c.req.param('key'))
      const a = actionFilter(await jsonBody(c, ACTION_KEYS, ['dryRun', 'resetAttempts']))
      // Refused before a job starts (the source checks it again, as it checks requeue's).
      if (op === 'purge' && a.filter.kind !== 'permanent' && a.filter.kind !== 'corrupt') {
        throw badRequest('purge removes entries of the permanent or the corrupt log (the retry log is never purged): kind=permanent or kind=corrupt')
      }
      const run = (signal: AbortSignal | undefined, onProgress?: (p: Progress) => void) => source[op]({ ...a, signal, onProgress })
      if (a.dryRun) return c.json(await run(c.req.raw.signal))
      return c.json({ job: ctx.jobs.start(source.key, op, run).id }, 202)
    })
  }

  app.get('/api/jobs/:id', (c) => {
    const job = ctx.jobs.get(c.req.param('id'))
    if (!job) throw notFound('no such job (finished jobs are kept for a while, then forgotten)')
    return c.json(job)
  })
}
