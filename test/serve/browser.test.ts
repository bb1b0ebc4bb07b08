/**
 * The inspector in a real browser: Debian's chromium driven by playwright-core. Opens the
 * overview, follows a reason group, requeues it through the page (the dry-run count shown
 * first, then the confirmation), sees the counts change, and checks that hostile stored
 * text (<img onerror>, <script>) never runs. SERVE_SCREENSHOT=docs/inspector.png also
 * saves a screenshot of the overview there.
 */
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { HAS_CHROMIUM, POLL, browser } from './chromium.js'
import { buildLog, serve } from './helpers.js'

const xssFlag = (page: Page) => page.evaluate('window.__xss')

describe.skipIf(!HAS_CHROMIUM)('dletter serve in chromium', () => {
  it('overview → group → requeue with the dry-run count first → counts change; hostile text never runs', { timeout: 120_000 }, async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const { page, dialogs, errors } = await browser()

    await page.goto(s.url + '/')
    const cell = (k: string) => page.locator(`section[data-source="orders"] [data-k="${k}"]`)
    await expect.poll(() => cell('permanent').textContent(), POLL).toBe('6')
    expect(await cell('pending').textContent()).toBe('3')
    expect(await cell('due').textContent()).toBe('2')
    expect(await cell('corrupt').textContent()).toBe('2')
    // The reason groups arrive with a refresh once the background scan is done.
    const group = page.getByRole('link', { name: 'timeout after <n>ms' }).last()
    await group.waitFor({ timeout: 30_000 })
    if (process.env.SERVE_SCREENSHOT) await page.screenshot({ path: process.env.SERVE_SCREENSHOT, fullPage: true })

    await group.click()
    await page.waitForURL(/\/logs\/orders\/entries\?kind=permanent&reason=/)
    await expect.poll(() => page.locator('#groups-summary').textContent(), POLL).toBe('3 matching entries in 1 group')
    expect(await page.locator('#entries tbody tr').count()).toBe(3)

    await page.getByRole('button', { name: 'Requeue all matching' }).click()
    const confirmText = page.locator('#confirm-text')
    await confirmText.waitFor()
    expect(await confirmText.textContent()).toMatch(/^dry run: would move 3 entries .* Nothing was changed\.$/)
    // The dry run changed nothing.
    expect(((await (await fetch(s.url + '/api/logs/orders/counts')).json()) as { permanent: number }).permanent).toBe(6)
    await page.getByRole('button', { name: 'Requeue 3 entries' }).click()
    await expect.poll(() => page.locator('#result').textContent(), { timeout: 30_000 }).toMatch(/^requeued 3 entries .* from the permanent log to the retry log/)

    await page.goto(s.url + '/')
    await expect.poll(() => cell('permanent').textContent(), POLL).toBe('3')
    expect(await cell('pending').textContent()).toBe('6')

    // Selecting entries: the selection's own dry run, then cancel.
    await page.goto(s.url + '/logs/orders/entries?log=permanent')
    await page.locator('input.sel[value="p3"]').check()
    await page.getByRole('button', { name: 'Purge selected (1)' }).click()
    await expect.poll(() => confirmText.textContent(), POLL).toMatch(/^dry run: would remove 1 entry/)
    await page.getByRole('button', { name: 'Cancel' }).click()
    expect(await page.locator('#confirm').isHidden()).toBe(true)

    // Hostile text: shown as text, never run — in the list, on the entry page, in the groups.
    await page.goto(s.url + '/logs/orders/entries?log=permanent')
    await page.locator('#groups-summary').waitFor()
    expect(await page.locator('#entries').textContent()).toContain('<script>window.__xss=3</script>')
    expect(await page.locator('#entries').textContent()).toContain('<b id=x>bold</b>')
    expect(await page.locator('#groups').textContent()).toContain('<script>window.__xss=<n></script>')
    // Terminal escapes and a right-to-left override are shown, not obeyed.
    expect(await page.locator('#groups').textContent()).toContain('\u241b[<n>mred\u241b[<n>m \\u202eevil')
    expect(await page.locator('#entries').textContent()).toContain('\u241b[31mred\u241b[0m \\u202eevil')
    expect(await page.locator('#entries img, #entries b, #entries script').count()).toBe(0)
    await page.locator('#entries a', { hasText: /^\d{4}-/ }).first().click()
    await page.waitForURL(/\/entry\?ref=/)
    expect(await page.locator('#payload').textContent()).toContain('<img src=x onerror=')
    expect(await page.locator('#reason').textContent()).toContain('<script>window.__xss=3</script>')
    expect(await page.locator('main img, main script').count()).toBe(0)
    expect(await xssFlag(page)).toBeUndefined()
    expect(dialogs).toEqual([])
    expect(errors).toEqual([])
  })
})
