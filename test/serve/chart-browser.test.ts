/**
 * The failure chart in a real Chromium (Debian's, driven by playwright-core): the SVG is
 * drawn, its bars' heights follow the counts of a log with failures at known hours, every
 * segment has a <title>, the range links work without script, the overview's sparkline is
 * drawn and redrawn without a reload, and no CSP violation is reported
 * (securitypolicyviolation events, console errors).
 */
import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { buildChartLog, line } from '../fixtures/chart-log.js'
import { HAS_CHROMIUM, browser } from './chromium.js'
import { serve } from './helpers.js'

describe.skipIf(!HAS_CHROMIUM)('failure chart in chromium', () => {
  it('draws the bars of the known counts with tooltips, and the CSP reports nothing', { timeout: 120_000 }, async () => {
    const b = buildChartLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    const { page, errors, violations: csp } = await browser()

    await page.goto(s.url + '/logs/orders/chart?range=24h&kind=all')
    const bars = await page.locator('svg.chart g.bar').evaluateAll((gs) =>
      gs.map((g) => ({
        bucket: Number(g.getAttribute('data-bucket')),
        count: [...g.querySelectorAll('rect.seg')].reduce((n, r) => n + Number(r.getAttribute('data-count')), 0),
        height: [...g.querySelectorAll('rect.seg')].reduce((n, r) => n + (r as unknown as { getBBox(): { height: number } }).getBBox().height, 0),
        segs: g.querySelectorAll('rect.seg').length,
        titles: [...g.querySelectorAll('rect.seg > title')].map((t) => t.textContent ?? ''),
      })),
    )
    expect(bars).toHaveLength(24)
    expect(bars.map((x) => x.count)).toEqual(b.expected24h)
    expect(bars[23]!.bucket).toBe(b.hour)
    // Heights in proportion to the counts: the tallest bar (3) is 3× a bar of 1.
    const unit = bars.find((x) => x.count === 1)!.height
    for (const x of bars) expect(x.height).toBeCloseTo(unit * x.count, 0)
    // One <title> per segment, and a segment wherever there are failures.
    for (const x of bars) expect([x.titles.length, x.segs > 0]).toEqual([x.segs, x.count > 0])
    expect(bars[20]!.titles).toEqual([expect.stringMatching(/ — timeout after <n>ms: 2 of 2$/)])
    // The legend's swatches use the chart's patterns; the table holds the same totals.
    expect(await page.locator('ul.legend li').count()).toBe(4)
    const tableTotals = await page.locator('table.chart-data tbody tr td:last-child').allTextContents()
    expect(tableTotals.map(Number)).toEqual(b.expected24h)

    // Per page: the listener starts afresh on each document.
    expect(await csp()).toEqual([])

    // The range is a plain link: no script needed.
    await page.getByRole('link', { name: 'last 30 days' }).click()
    await page.waitForURL(/range=30d/)
    expect(await page.locator('svg.chart g.bar').count()).toBe(30)
    expect(await csp()).toEqual([])

    // The overview's sparkline, counted in the background: drawn once counted, without a
    // reload (app.js takes the newer drawing when /api/overview's numbers move) …
    await page.goto(s.url + '/')
    await page.waitForSelector('svg.sparkline', { timeout: 60_000 })
    const counts = () => page.locator('svg.sparkline rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-count'))))
    expect(await counts()).toEqual(b.expected24h)
    // … and redrawn when failures are added (their total: an hour may turn meanwhile).
    const total = async () => (await counts()).reduce((a, n) => a + n, 0)
    const before = await total()
    fs.appendFileSync(b.log, `${line(Date.now() - 1000, 'timeout after 1ms', 900)}\n${line(Date.now() - 500, 'timeout after 2ms', 901)}\n`)
    await expect.poll(total, { timeout: 60_000, interval: 200 }).toBe(before + 2)

    expect(await csp()).toEqual([])
    expect(errors).toEqual([])
  })
})
