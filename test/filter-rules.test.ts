/**
 * One filter, one meaning: each filter of the table runs on a local log and on a real
 * PostgreSQL store holding the same entries, and selects the same ids on both (or is refused
 * on both with DLQ_INVALID_OPTION). The host runs in America/New_York: a date-time without an
 * offset means UTC everywhere, never the host's zone.
 */
process.env.TZ = 'America/New_York'

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EntryFilter, inspect } from '../src/index.js'
import type { PostgresStore } from '../src/postgres/index.js'
import { envLine, writeLines } from './fixtures/cli-util.js'
import { collect, useCluster } from './postgres/setup.js'

const pg = useCluster()
const at = (h: number) => Date.UTC(2025, 10, 1, h) // 2025-11-01, h:00 UTC (08:00 in New York is 12:00 UTC)

const ENTRIES = [
  { id: 'a', ts: at(11), attempt: 1, reason: 'timeout after 3012 ms', payload: { sku: 'A-1' } },
  { id: 'b', ts: at(13), attempt: 3, reason: 'Timeout after 99 ms', payload: { sku: 'B-2' } },
  { id: 'c', ts: at(15), attempt: 2, reason: 'card declined', payload: { sku: 'A-3' } },
  { id: 'd', ts: at(17), attempt: 5, reason: 'ECONNREFUSED 10.0.0.1:5432', payload: { sku: 'D-4' } },
]

/** [filter, ids it selects, oldest first]. */
const SELECTS: Array<[EntryFilter, string[]]> = [
  [{}, ['a', 'b', 'c', 'd']],
  // No offset: UTC on both, whatever the host's zone (12:00 New York time would be 16:00 UTC).
  [{ since: '2025-11-01T12:00' }, ['b', 'c', 'd']],
  [{ until: '2025-11-01T12:00' }, ['a']],
  [{ since: '2025-11-01' }, ['a', 'b', 'c', 'd']],
  [{ since: '2025-11-01T12:00-04:00' }, ['d']],
  [{ since: new Date(at(13)), until: at(17) }, ['b', 'c']],
  [{ since: String(at(15)) }, ['c', 'd']],
  [{ olderThan: '1d' }, ['a', 'b', 'c', 'd']],
  [{ reason: /^timeout/i }, ['a', 'b']],
  [{ reason: /^timeout/ }, ['a']],
  [{ reason: 'after' }, ['a', 'b']],
  [{ reason: /declined|REFUSED/g }, ['c', 'd']],
  [{ fingerprint: 'timeout after <n> ms' }, ['a']],
  [{ id: ['a', 'c', 'zz'] }, ['a', 'c']],
  [{ id: 'd' }, ['d']],
  [{ payload: 'A-' }, ['a', 'c']],
  [{ attempt: 3 }, ['b', 'd']],
  [{ attempt: 1, limit: 2 }, ['a', 'b']],
  [{ reason: /timeout/i, attempt: 2 }, ['b']],
]

/** Refused on both backends, with the option named. */
const REFUSES: Array<[object, string]> = [
  [{ attempt: 0 }, 'attempt'],
  [{ attempt: 1.5 }, 'attempt'],
  [{ limit: 0 }, 'limit'],
  [{ fingerprint: ['timeout after <n> ms'] }, 'fingerprint'],
  [{ id: [] }, 'id'],
  [{ id: [1] }, 'id'],
  [{ since: 'yesterday' }, 'since'],
  [{ since: '2025-13-01' }, 'since'],
  [{ until: at(12), olderThan: '1d' }, 'until'],
  [{ olderThan: -1 }, 'olderThan'],
  [{ reason: /x/m }, 'reason'],
  [{ reason: 5 }, 'reason'],
  [{ payload: { sku: 'A-1' } }, 'payload'],
]

const show = (o: object) => JSON.stringify(o, (_, v) => (v instanceof RegExp ? String(v) : v))

describe('filter rules: the same filter selects the same entries locally and centrally', () => {
  let log: string
  let store: PostgresStore
  const dirs: string[] = []
  beforeAll(async () => {
    // The same permanent log twice: one read locally, one shipped (shipping empties it).
    const lines = ENTRIES.map((e) => envLine({ ...e, final: 'exhausted' }))
    for (let i = 0; i < 2; i++) {
      dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-filter-rules-')))
      writeLines(path.join(dirs[i]!, 'permanent-orders.log'), lines)
    }
    log = path.join(dirs[0]!, 'orders.log')
    store = await pg.store()
    await store.ship(path.join(dirs[1]!, 'orders.log'))
  }, 60_000)
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  })

  it('the host is in New York for this file', () => {
    expect(new Date(at(12)).getHours()).toBe(8)
  })

  it.each(SELECTS.map(([f, ids]) => [show(f), f, ids] as const))('%s', async (_, filter, ids) => {
    const local = (await collect(inspect(log, { ...filter, kind: 'permanent' }))).map((e) => e.id)
    const central = (await collect(store.inspect({ ...filter, kind: 'permanent' }))).map((e) => e.id)
    expect(local).toEqual(ids)
    expect(central).toEqual(ids)
  })

  it.each(REFUSES.map(([f, name]) => [show(f), f, name] as const))('refused: %s', async (_, filter, name) => {
    for (const run of [() => collect(inspect(log, { ...filter, kind: 'permanent' } as never)), () => collect(store.inspect({ ...filter, kind: 'permanent' } as never))]) {
      const err = await run().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, show(filter)).toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining(`\`${name}\``) })
    }
  })
})
