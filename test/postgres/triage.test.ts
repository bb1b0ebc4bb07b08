import { describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, byState, collect, rejection, seed, useCluster } from './setup.js'

const pg = useCluster()

const REASONS = [
  (i: number) => `timeout after ${100 + i} ms calling 10.0.0.${i % 250}`,
  (i: number) => `legacy order ${i} rejected`,
  (i: number) => `card declined (100% off? [x])`,
]

async function fleet() {
  const store = await pg.store({ host: 'pod-1' })
  const other = await PostgresStore.connect(pg.url, { schema: (store as unknown as { tables: { schema: string } }).tables.schema, host: 'pod-2' })
  try {
    await seed(store, tmpDir(), 30, { reason: (i) => REASONS[i % 3]!(i), permanent: (i) => i % 3 === 2, id: (i) => `a-${i}` })
    await seed(other, tmpDir(), 9, { reason: (i) => REASONS[i % 3]!(i), permanent: (i) => i % 3 === 2, id: (i) => `b-${i}`, name: 'other.log' })
  } finally {
    await other.close()
  }
  return store
}

describe('inspect, stats, requeue, purge', () => {
  it('inspect filters by state, reason RegExp and substring, host, log, id, time and limit', async () => {
    const store = await fleet()
    const n = async (f: Parameters<typeof allEntries>[1]) => (await allEntries(store, f)).length
    expect(await n({})).toBe(39)
    expect(await collect(store.inspect({ kind: 'permanent' }))).toHaveLength(13)
    expect(await n({ reason: /^legacy order \d+/ })).toBe(13)
    expect(await n({ reason: /LEGACY/i })).toBe(13)
    expect(await n({ reason: /LEGACY/ })).toBe(0)
    // A substring is literal: %, _, (, [ and ? mean themselves.
    expect(await n({ reason: '100% off? [x]' })).toBe(13)
    expect(await n({ reason: '100_ off' })).toBe(0)
    expect(await n({ host: 'pod-2' })).toBe(9)
    expect(await n({ logName: 'other.log' })).toBe(9)
    expect(await n({ id: ['a-1', 'b-2', 'nope'] })).toBe(2)
    expect(await n({ since: '1h', until: Date.now() + 60_000 })).toBe(39)
    expect(await n({ until: '1h' })).toBe(0)
    expect(await n({ limit: 5 })).toBe(5)
    expect(await n({ olderThan: '1h' })).toBe(0)
    expect(await n({ olderThan: 0 })).toBe(39)
    expect(await n({ payload: '"n": 4}' })).toBe(2)
    expect(await n({ attempt: 2 })).toBe(0)
    expect(await n({ attempt: 1 })).toBe(39)
    expect((await rejection(allEntries(store, { olderThan: '1h', until: 0 }))).message).toMatch(/`until` and `olderThan`/)
    const e = (await allEntries(store, { id: 'b-4' }))[0]!
    expect(e).toMatchObject({ host: 'pod-2', kind: 'retry', attempt: 1, id: 'b-4', payload: { n: 4 }, reason: 'legacy order 4 rejected' })
    expect((await rejection(allEntries(store, { colour: 'red' } as never))).message).toMatch(/unknown store.inspect\(\) option `colour`/)
    expect((await rejection(collect(store.inspect({ kind: 'lost' } as never)))).message).toMatch(/option `kind`/)
  })

  it('stats groups by fingerprint across hosts, by state and host, with the oldest age', async () => {
    const store = await fleet()
    const s = await store.stats()
    expect(s.retry.count + s.permanent.count + s.corrupt.count).toBe(39)
    expect(await byState(store)).toMatchObject({ retry: 26, permanent: 13, corrupt: 0 })
    expect(s.hosts).toEqual([
      { host: 'pod-1', retry: 20, due: 20, permanent: 10, corrupt: 0, oldestTs: expect.any(Number) },
      { host: 'pod-2', retry: 6, due: 6, permanent: 3, corrupt: 0, oldestTs: expect.any(Number) },
    ])
    const fps = Object.fromEntries(s.retry.reasons.map((g) => [g.fingerprint, g]))
    expect(fps['timeout after <n> ms calling <ip>']).toMatchObject({ count: 13, hosts: 2 })
    expect(fps['legacy order <n> rejected']).toMatchObject({ count: 13, hosts: 2 })
    expect(s.permanent.reasons).toMatchObject([{ fingerprint: 'card declined (<n>% off? [x])', count: 13 }])
    expect(s.retry.due).toBe(26)
    expect(s.at - s.retry.oldestTs!).toBeGreaterThanOrEqual(0)
    const pod2 = await store.stats({ host: 'pod-2' })
    expect(pod2.retry.count + pod2.permanent.count + pod2.corrupt.count).toBe(9)
  })

  it('requeue: the dry run counts and names the top reasons and changes nothing; the real run makes entries due', async () => {
    const store = await fleet()
    const before = await allEntries(store)
    const dry = await store.requeue({ reason: 'declined', dryRun: true, resetAttempts: true })
    expect(dry).toMatchObject({ dryRun: true, count: 13, reasons: [{ fingerprint: 'card declined (<n>% off? [x])', count: 13 }] })
    expect(await allEntries(store)).toEqual(before)
    const r = await store.requeue({ reason: /declined/, host: 'pod-1', resetAttempts: true })
    expect(r).toMatchObject({ dryRun: false, count: 10 })
    expect(await byState(store)).toMatchObject({ retry: 36, permanent: 3 })
    const delivered: number[] = []
    await store.replay((p: { n: number }) => void delivered.push(p.n), { host: 'pod-1' })
    expect(delivered).toHaveLength(30)
    await expect(store.requeue({ kind: 'corrupt' as never })).rejects.toThrow(/corrupt entries have no payload to deliver/)
  })

  it('purge with a limit and a rate; purged rows stay until prune()', async () => {
    const store = await fleet()
    expect(await store.purge({ kind: 'permanent', reason: 'card declined', dryRun: true })).toMatchObject({ count: 13 })
    const r = await store.purge({ kind: 'permanent', reason: 'card declined', limit: 6, rate: 3 })
    expect(r.count).toBe(6)
    expect(await byState(store)).toMatchObject({ permanent: 7, purged: 6 })
    expect(await store.prune({ olderThan: '1h' })).toBe(0)
    expect(await store.prune({ olderThan: 0 })).toBe(6)
    expect((await byState(store)).purged).toBe(0)
  })

  it('never prints credentials: connection errors are masked', async () => {
    const url = pg.url.replace('postgres@', 'postgres:s3cr3t-pw@').replace(/:\d+\//, ':1/')
    const err = (await PostgresStore.connect(url, { connectTimeout: 2000 }).catch((e: unknown) => e)) as Error & { code: string }
    expect(err).toMatchObject({ code: 'DLQ_DB' })
    expect(err.message).toMatch(/ECONNREFUSED/)
    expect(err.message).not.toContain('s3cr3t-pw')
    expect(String((err as { stack?: string }).stack)).not.toContain('s3cr3t-pw')
    await expect(PostgresStore.connect(undefined)).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT', message: expect.stringMatching(/DLETTER_DB/) })
    await expect(PostgresStore.connect(pg.url, { schema: 'Robert"; DROP' })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
  })
})
