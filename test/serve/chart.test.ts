/**
 * The failure chart over HTTP: /api/logs/<key>/chart gives the counts of a log with failures at
 * known hours, the page's SVG bars carry the same numbers (with a <title> each), the overview
 * has a sparkline, bad parameters are a 400 naming them, and the CSP header is the usual one.
 */
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { buildChartLog } from '../fixtures/chart-log.js'
import { get, serve } from './helpers.js'

/** data-count of every bar segment per bucket start, summed. */
function barTotals(svg: string): Map<number, number> {
  const out = new Map<number, number>()
  for (const m of svg.matchAll(/<rect class="seg"[^>]*data-bucket="(\d+)"[^>]*data-count="(\d+)"[^>]*><title>([^<]*)<\/title>/g)) {
    out.set(Number(m[1]), (out.get(Number(m[1])) ?? 0) + Number(m[2]))
  }
  return out
}

describe('failure chart routes', () => {
  it('JSON and SVG give the counts per hour, stacked by reason group', async () => {
    const b = buildChartLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    const api = (await get(s, '/api/logs/orders/chart?range=24h&kind=all')).json()
    expect(api.totals).toEqual(b.expected24h)
    expect(api.buckets[23]).toBe(b.hour)
    expect(api.groups.find((g: { fingerprint: string }) => g.fingerprint === 'timeout after <n>ms').counts).toEqual(b.timeouts24h)
    expect((await get(s, '/api/logs/orders/chart?kind=permanent')).json().total).toBe(3)
    expect((await get(s, '/api/logs/orders/chart?range=30d')).json().total).toBe(12)

    const page = await get(s, '/logs/orders/chart?range=24h', { accept: 'text/html' })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    const bars = barTotals(page.text)
    const expected = new Map(b.expected24h.flatMap((n, i) => (n > 0 ? [[b.hour - (23 - i) * 3_600_000, n] as [number, number]] : [])))
    expect(bars).toEqual(expected)
    expect(page.text).toMatch(/<title>[^<]*timeout after &lt;n&gt;ms: 2 of 2<\/title>/)
    // The table fallback and the legend carry the numbers too.
    expect(page.text).toContain('<table class="chart-data">')
    expect(page.text).toMatch(/timeout after &lt;n&gt;ms<\/span> <b class="num">3<\/b>/)
    expect(page.text).not.toMatch(/\sstyle=/)
  })

  it('the overview shows a sparkline of the last 24 h once counted', async () => {
    const b = buildChartLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    let o
    for (let i = 0; i < 1000; i++) {
      o = (await get(s, '/api/overview')).json()
      if (o.sources[0].recentFailures) break
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(o.sources[0].recentFailures.totals).toEqual(b.expected24h)
    const html = (await get(s, '/', { accept: 'text/html' })).text
    const spark = /<svg class="sparkline"[\s\S]*?<\/svg>/.exec(html)![0]
    const counts = [...spark.matchAll(/data-count="(\d+)"/g)].map((m) => Number(m[1]))
    expect(counts).toEqual(b.expected24h)
    expect(html).toContain('10 in 24 h')
  })

  it('bad parameters are a 400 naming them', async () => {
    const b = buildChartLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    expect((await get(s, '/api/logs/orders/chart?range=7d')).json()).toMatchObject({ status: 400, error: expect.stringMatching(/^range:/) })
    expect((await get(s, '/api/logs/orders/chart?kind=lost')).json()).toMatchObject({ status: 400, error: expect.stringMatching(/^kind:/) })
    expect((await get(s, '/api/logs/orders/chart?top=0')).json()).toMatchObject({ status: 400, error: expect.stringMatching(/^top:/) })
    expect((await get(s, '/api/logs/orders/chart?host=a')).json()).toMatchObject({ status: 400, error: expect.stringMatching(/^host:/) })
    expect((await get(s, '/api/logs/nope/chart')).status).toBe(404)
  })
})
