/**
 * The failure chart in a real Chromium (Debian's, driven by playwright-core): the SVG is
 * drawn, its bars' heights follow the counts of a log with failures at known hours, every
 * segment has a <title>, the range links work without script, and no CSP violation is
 * reported (securitypolicyviolation events, console errors).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { buildChartLog } from '../fixtures/chart-log.js'
import { serve } from './helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

let open: { ctx: BrowserContext; dir: string } | undefined

afterEach(async () => {
  if (!open) return
  await open.ctx.close()
  fs.rmSync(open.dir, { recursive: true, force: true })
  open = undefined
})

describe.skipIf(!fs.existsSync(CHROMIUM))('failure chart in chromium', () => {
  it('draws the bars of the known counts with tooltips, and the CSP reports nothing', { timeout: 120_000 }, async () => {
    const b = buildChartLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dletter-chromium-'))
    const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS })
    open = { ctx, dir }
    const page = ctx.pages()[0] ?? (await ctx.newPage())
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) errors.push(m.text())
    })
    // Registered before any page script runs: every violation of the page is recorded.
    await ctx.addInitScript(`window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI))`)

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
    const csp = () => page.evaluate('window.__csp')
    expect(await csp()).toEqual([])

    // The range is a plain link: no script needed.
    await page.getByRole('link', { name: 'last 30 days' }).click()
    await page.waitForURL(/range=30d/)
    expect(await page.locator('svg.chart g.bar').count()).toBe(30)
    expect(await csp()).toEqual([])

    // The overview's sparkline (counted in the background: the page shows it once counted).
    for (let i = 0; i < 300 && (await page.locator('svg.sparkline').count()) === 0; i++) await page.goto(s.url + '/')
    expect(await page.locator('svg.sparkline rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-count'))))).toEqual(b.expected24h)

    expect(await csp()).toEqual([])
    expect(errors).toEqual([])
  })
})
