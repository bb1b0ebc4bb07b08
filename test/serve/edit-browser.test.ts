/**
 * The payload editor in a real browser (Debian's chromium via playwright-core), over a local
 * log: invalid JSON disables Preview and Apply as one types, Preview shows the library's
 * diff, Apply moves the entry as an edited new record with `editOf`, audited, and its page
 * shows the audit record; an entry requeued by someone else between preview and apply is
 * refused (409) with nothing moved. No Content-Security-Policy violation on the way.
 */
import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { requeue } from '../../src/index.js'
import { familyLines } from '../fixtures/cli-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { HAS_CHROMIUM, POLL, browser } from './chromium.js'
import { buildLog, contents, get, serve } from './helpers.js'

async function entryUrl(s: { url: string }, kind: string, id: string): Promise<string> {
  const ref = (await get(s, `/api/logs/orders/entries?kind=${kind}&id=${id}`)).json().entries[0].ref as string
  return `${s.url}/logs/orders/entry?ref=${encodeURIComponent(ref)}`
}

describe.skipIf(!HAS_CHROMIUM)('dletter serve in chromium: the payload editor', () => {
  it('validates as one types, previews the diff, applies; the new record shows its audit record; a stale edit is refused', { timeout: 120_000 }, async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const { page, errors, violations } = await browser()

    await page.goto(await entryUrl(s, 'permanent', 'p1'))
    const text = page.locator('#edit-payload')
    const preview = page.locator('#edit-preview')
    const apply = page.locator('#edit-apply')
    expect(JSON.parse(await text.inputValue())).toEqual({ order: 2 })
    // No reason yet: nothing to preview.
    expect(await preview.isDisabled()).toBe(true)
    await page.locator('#edit-why').fill('amount was missing')
    expect(await preview.isEnabled()).toBe(true)
    expect(await apply.isDisabled()).toBe(true)

    await text.fill('{ "order": 2, "amount": ')
    expect(await page.locator('#edit-status').textContent()).toMatch(/^invalid JSON: /)
    expect(await preview.isDisabled()).toBe(true)
    expect(await apply.isDisabled()).toBe(true)

    await text.fill('{ "order": 2, "amount": 10 }')
    expect(await page.locator('#edit-status').textContent()).toBe('valid JSON')
    const before = contents(a.dir)
    await preview.click()
    const diff = page.locator('#edit-diff')
    await expect.poll(() => diff.textContent(), POLL).toContain('+ /amount: 10')
    expect(await diff.textContent()).toMatch(/dry run: would move 1 entry .*Nothing was changed\./)
    expect(contents(a.dir)).toEqual(before)
    // Changing the text after the preview asks for a new one.
    await text.fill('{ "order": 2, "amount": 11 }')
    expect(await apply.isDisabled()).toBe(true)
    await text.fill('{ "order": 2, "amount": 10 }')
    await preview.click()
    await expect.poll(() => apply.isEnabled(), POLL).toBe(true)
    await apply.click()
    await expect.poll(() => page.locator('#edit-result').textContent(), POLL).toMatch(/requeued 1 entry .* from the permanent log to the retry log/)

    const moved = familyLines(a.log, 'retry').map((l) => JSON.parse(l)).filter((e) => e.id === 'p1')
    expect(moved).toHaveLength(1)
    expect(moved[0]).toMatchObject({ attempt: 1, payload: { order: 2, amount: 10 }, editOf: { id: 'p1' } })
    const audit = fs.readFileSync(`${a.log}.audit.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(audit).toMatchObject([{ op: 'requeue', why: 'amount was missing', id: 'p1', patch: [{ op: 'add', path: '/amount', value: 10 }] }])

    // Follow the link to the new record: its page shows the audit record that made it.
    await page.locator('#edit-new').click()
    await page.waitForURL(/entries\?kind=retry&id=p1/)
    await page.locator('#entries a', { hasText: /^\d{4}-/ }).first().click()
    await page.waitForURL(/\/entry\?ref=retry/)
    expect(await page.locator('#audit').textContent()).toContain('amount was missing')
    expect(await page.locator('#audit').textContent()).toContain('"path":"/amount"')
    expect(await page.locator('#edit-unavailable').count()).toBe(1)

    // Stale: another operator requeues p3 between the preview and the apply.
    await page.goto(await entryUrl(s, 'permanent', 'p3'))
    await page.locator('#edit-why').fill('fix')
    await page.locator('#edit-payload').fill('{ "order": 4, "fixed": true }')
    await page.locator('#edit-preview').click()
    await expect.poll(() => page.locator('#edit-apply').isEnabled(), POLL).toBe(true)
    await requeue(a.log, { id: 'p3' })
    const beforeStale = contents(a.dir)
    await page.locator('#edit-apply').click()
    await expect.poll(() => page.locator('#edit-result').textContent(), POLL).toMatch(/no longer where it was/)
    expect(await page.locator('#edit-result').getAttribute('class')).toContain('failed')
    expect(contents(a.dir)).toEqual(beforeStale)

    expect(await violations()).toEqual([])
    // The refused apply is a 409 the browser reports as a failed load; nothing else.
    expect(errors.filter((e) => !/status of 409/.test(e))).toEqual([])
  })
})
