/**
 * store.failureSeries on a real PostgreSQL: the logs of two hosts with failures at known hours,
 * shipped, give the counts the local logs gave (per UTC hour and day, per reason group, per
 * host), and the inspector serves the same numbers as JSON and as SVG bars.
 */
import { describe, expect, it } from 'vitest'
import { failureSeries } from '../../src/index.js'
import { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { buildChartLog } from '../fixtures/chart-log.js'
import { get, serve } from '../serve/helpers.js'
import { rejection, useCluster } from './setup.js'

const pg = useCluster()

describe('store.failureSeries', () => {
  it('counts what the local logs counted, per hour, group and host; the inspector shows the same', { timeout: 120_000 }, async () => {
    const now = Date.now()
    const a = buildChartLog(tmpDir(), now)
    const b = buildChartLog(tmpDir(), now, 'other')
    const local = await failureSeries(a.log).read({ now })
    const localMonth = await failureSeries(a.log).read({ now, range: '30d' })
    const store = await pg.store({ schema: 'dletter', host: 'host-a' })
    await store.ship(a.log)
    const other = await PostgresStore.connect(pg.url, { schema: 'dletter', host: 'host-b' })
    try {
      await other.ship(b.log)
    } finally {
      await other.close()
    }

    const s = await store.failureSeries({ now })
    expect(s.buckets).toEqual(local.buckets)
    expect(s.totals).toEqual(a.expected24h.map((n) => 2 * n))
    expect(s.groups.map((g) => [g.fingerprint, g.total, g.counts])).toEqual(local.groups.map((g) => [g.fingerprint, 2 * g.total, g.counts.map((n) => 2 * n)]))
    const month = await store.failureSeries({ now, range: '30d' })
    expect(month.totals).toEqual(localMonth.totals.map((n) => 2 * n))
    expect((await store.failureSeries({ now, kind: 'permanent' })).total).toBe(6)
    expect((await store.failureSeries({ now, kind: 'corrupt' })).total).toBe(2)
    expect((await store.failureSeries({ now, host: 'host-b' })).totals).toEqual(a.expected24h)
    const top1 = await store.failureSeries({ now, top: 1 })
    expect(top1.groups.map((g) => [g.fingerprint, g.total])).toEqual([['connect ECONNREFUSED <ip>:<n>', 10], ['(other reasons)', 10]])
    const hosts = await store.failureSeries({ now, byHost: true })
    expect(hosts.hosts).toEqual([
      { host: 'host-a', total: 10, counts: a.expected24h },
      { host: 'host-b', total: 10, counts: a.expected24h },
    ])
    expect((await rejection(store.failureSeries({ range: '1y' } as never))).code).toBe('DLQ_INVALID_OPTION')

    const srv = await serve({ db: pg.url })
    const api = (await get(srv, '/api/logs/central/chart?range=24h')).json()
    expect(api.totals).toEqual(s.totals)
    expect((await get(srv, '/api/logs/central/chart?host=host-a')).json().totals).toEqual(a.expected24h)
    const page = (await get(srv, '/logs/central/chart?range=24h', { accept: 'text/html' })).text
    const bars = new Map<number, number>()
    for (const m of page.matchAll(/<rect class="seg"[^>]*data-bucket="(\d+)"[^>]*data-count="(\d+)"/g)) bars.set(Number(m[1]), (bars.get(Number(m[1])) ?? 0) + Number(m[2]))
    expect([...bars.entries()].sort((x, y) => x[0] - y[0])).toEqual(s.buckets.flatMap((t, i) => (s.totals[i]! > 0 ? [[t, s.totals[i]]] : [])))
    // The overview: a sparkline per host.
    const overview = (await get(srv, '/api/overview')).json()
    expect(overview.sources[0].recentFailures.hosts.map((h: { host: string; counts: number[] }) => [h.host, h.counts])).toEqual([
      ['host-a', a.expected24h],
      ['host-b', a.expected24h],
    ])
    expect((await get(srv, '/', { accept: 'text/html' })).text).toMatch(/<table class="hosts recent-hosts">[\s\S]*host-a[\s\S]*<svg class="sparkline"/)
  })
})
