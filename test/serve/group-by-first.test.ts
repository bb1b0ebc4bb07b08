/**
 * Reason groups by first reason as well as by last: five orders fail with two different
 * reasons, then every replay fails them with "still failing <n>" until they are exhausted.
 * Grouped by last reason the permanent log is one group; by first reason it is the two
 * failures that put them there — on a local log and on the central store (shipped into an
 * in-process PGlite). The choice is in the query string and kept by the page's links.
 */
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { describe, expect, it } from 'vitest'
import { Logger, replay } from '../../src/index.js'
import { type PGliteLike, PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { get, serve } from './helpers.js'

const NOW = 1_800_000_000_000

async function exhaustedLog(): Promise<string> {
  const log = path.join(tmpDir(), 'orders.log')
  const dlq = await Logger.open(log)
  for (let i = 0; i < 3; i++) await dlq.log({ order: i }, new Error(`timeout after ${1000 + i}ms`), { id: `t${i}` })
  for (let i = 0; i < 2; i++) await dlq.log({ order: 10 + i }, new Error('upstream returned 503'), { id: `u${i}` })
  await dlq.close()
  let n = 1000
  const fail = () => {
    throw new Error(`still failing ${n++}`)
  }
  for (let t = 0; t < 2; t++) await replay(log, fail, { now: () => NOW + t, initialWait: 0, maxAttempts: 2 })
  return log
}

const rows = (g: { groups: Array<{ fingerprint: string; count: number; query?: string }> }) => g.groups.map((x) => [x.fingerprint, x.count])

async function check(s: { url: string }, key: string): Promise<void> {
  const last = (await get(s, `/api/logs/${key}/groups?kind=permanent`)).json()
  expect(last.groupBy).toBe('last')
  expect(rows(last)).toEqual([['still failing <n>', 5]])
  expect(last.groups[0].query).toContain('reason=')
  const first = (await get(s, `/api/logs/${key}/groups?kind=permanent&groupBy=first`)).json()
  expect(first.groupBy).toBe('first')
  expect(rows(first)).toEqual([
    ['timeout after <n>ms', 3],
    ['upstream returned <n>', 2],
  ])
  // A group's link would filter by the last reason: none by first reason.
  expect(first.groups.every((g: { query?: string }) => g.query === undefined)).toBe(true)
  expect((await get(s, `/api/logs/${key}/groups?kind=permanent&groupBy=middle`)).status).toBe(400)
}

describe('dletter serve: reason groups by first reason', () => {
  it('local log: by last reason one group, by first reason the two first failures; the page keeps the choice in its links', async () => {
    const log = await exhaustedLog()
    const s = await serve({ logs: [log] })
    await check(s, 'orders')
    const page = (await get(s, '/logs/orders/entries?kind=permanent&groupBy=first&size=2')).text
    expect(page).toContain('<option value="first" selected>first reason</option>')
    expect(page).toContain('data-src="/api/logs/orders/groups?kind=permanent&amp;groupBy=first"')
    // Paging, the tabs and "clear" keep it.
    expect(page).toMatch(/href="\/logs\/orders\/entries\?kind=permanent&amp;order=newest&amp;size=2&amp;page=2&amp;groupBy=first"/)
    expect(page).toContain('href="/logs/orders/entries?kind=retry&amp;groupBy=first"')
    expect(page).toContain('href="/logs/orders/entries?kind=permanent&amp;groupBy=first">clear</a>')
    const plain = (await get(s, '/logs/orders/entries?kind=permanent')).text
    expect(plain).toContain('<option value="last" selected>last reason</option>')
    expect(plain).not.toContain('groupBy=first')
  })

  it('central store: the same groups', { timeout: 120_000 }, async () => {
    const db = new PGlite()
    try {
      const target = db as unknown as PGliteLike
      const store = await PostgresStore.connect(target, { host: 'web-1' })
      await store.ship(await exhaustedLog())
      await store.close()
      const s = await serve({ db: target })
      await check(s, 'central')
      await s.close()
    } finally {
      await db.close()
    }
  })
})
