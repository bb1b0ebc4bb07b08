/**
 * Failures over time: the chart page (/logs/<key>/chart) and its numbers
 * (/api/logs/<key>/chart), both GETs with `range` (24h | 30d), `kind` (all | retry | permanent
 * | corrupt), `top` (1–20 groups) and, for the central store, `host`.
 */
import type { Hono } from 'hono'
import type { FailureSeriesOptions, SeriesKind, SeriesRange } from '../format/series.js'
import { queryOf } from './api.js'
import type { ServeContext } from './context.js'
import { badRequest } from './http-error.js'
import type { Source } from './backend-source.js'
import { chartPage } from './views/chart-page.js'

export type ChartParams = FailureSeriesOptions & { range: SeriesRange; kind: SeriesKind; top: number }

export function parseChartParams(q: Record<string, string>, source: Source): ChartParams {
  const range = q.range || '24h'
  if (range !== '24h' && range !== '30d') throw badRequest('range: expected 24h or 30d')
  const kind = q.kind || 'all'
  if (kind !== 'all' && kind !== 'retry' && kind !== 'permanent' && kind !== 'corrupt') throw badRequest('kind: expected all, retry, permanent or corrupt')
  const top = q.top === undefined || q.top === '' ? 5 : /^\d{1,2}$/.test(q.top) ? Number(q.top) : NaN
  if (!(top >= 1 && top <= 20)) throw badRequest('top: expected a whole number from 1 to 20')
  const p: ChartParams = { range, kind, top }
  if (q.host !== undefined && q.host !== '') {
    if (!source.hasHosts) throw badRequest('host: a local log has no hosts (the host filter applies to the central store)')
    if (q.host.length > 255) throw badRequest('host: at most 255 characters')
    p.host = q.host
  }
  return p
}

export function chartRoutes(app: Hono, ctx: ServeContext): void {
  app.get('/api/logs/:key/chart', async (c) => {
    const source = ctx.source(c.req.param('key'))
    const p = parseChartParams(queryOf(c), source)
    return c.json(await source.failures(p))
  })

  app.get('/logs/:key/chart', async (c) => {
    const source = ctx.source(c.req.param('key'))
    const p = parseChartParams(queryOf(c), source)
    return c.html(chartPage(ctx, { source, range: p.range, kind: p.kind, host: p.host, series: await source.failures(p) }))
  })
}
