import { describe, expect, it } from 'vitest'
import { PermanentError } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, byState, collect, seed, useCluster } from './setup.js'

const pg = useCluster()

describe('central replay', () => {
  it('delivers due entries once and marks them delivered', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 30)
    const seen: number[] = []
    const s = await store.replay((p: { n: number }) => {
      seen.push(p.n)
    }, { concurrency: 4, batchSize: 7 })
    expect(s).toMatchObject({ handled: 30, delivered: 30, requeued: 0, permanent: 0 })
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect((await byState(store))).toMatchObject({ retry: 0, delivered: 30 })
    expect(await store.replay(() => {})).toMatchObject({ handled: 0 })
    // Delivered rows are out of the default view but kept for retention.
    expect(await allEntries(store)).toEqual([])
    expect(await collect(store.inspect({ settled: 'delivered' }))).toHaveLength(30)
  })

  it('a failure re-queues with attempt + 1, the handler\'s reason and a backoff due time', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 3)
    const err = Object.assign(new TypeError('upstream 503 for order 17'), { code: 'ECONNRESET' })
    const s = await store.replay(() => {
      throw err
    }, { initialWait: '1h', maxWait: '2h', random: () => 0 })
    expect(s).toMatchObject({ handled: 3, requeued: 3 })
    const rows = await allEntries(store)
    for (const e of rows) {
      expect(e).toMatchObject({ kind: 'retry', attempt: 2, reason: 'upstream 503 for order 17', errorName: 'TypeError', errorCode: 'ECONNRESET' })
      expect(e.fingerprint).toBe('upstream <n> for order <n>')
      expect(e.dueTs! - e.ts).toBe(3_600_000)
    }
    // Not due: a second run takes nothing.
    expect(await store.replay(() => {})).toMatchObject({ handled: 0 })
  })

  it('PermanentError and exhausted attempts make entries permanent; ttl makes them expired', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 4, { attempt: 1 })
    const s = await store.replay((p: { n: number }) => {
      if (p.n === 0) throw new PermanentError('card declined')
      if (p.n === 1) throw new Error('flaky')
    }, { maxAttempts: 2 })
    expect(s).toMatchObject({ handled: 4, delivered: 2, permanent: 2 })
    const perm = await collect(store.inspect({ kind: 'permanent' }))
    expect(perm.map((e) => [(e.payload as { n: number }).n, e.final, e.attempt, e.reason]).sort()).toEqual([
      [0, 'permanent', 2, 'card declined'],
      [1, 'exhausted', 2, 'flaky'],
    ])
    const store2 = await pg.store()
    await seed(store2, tmpDir(), 2, { attempt: 5 })
    expect(await store2.replay(() => {}, { maxAttempts: 5 })).toMatchObject({ handled: 2, permanent: 2, delivered: 0 })
    const store3 = await pg.store()
    await seed(store3, tmpDir(), 2)
    await new Promise((r) => setTimeout(r, 20)) // entries must be older than the 1 ms ttl
    let called = 0
    expect(await store3.replay(() => void called++, { ttl: 1 })).toMatchObject({ expired: 2, delivered: 0 })
    expect(called).toBe(0)
    expect((await collect(store3.inspect({ kind: 'permanent' }))).map((e) => e.final)).toEqual(['expired', 'expired'])
  })

  it('a handler that does not settle within handlerTimeout counts as failed', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 2)
    const s = await store.replay(() => new Promise(() => {}), { handlerTimeout: 50, concurrency: 2, initialWait: '1h', maxWait: '1h' })
    expect(s).toMatchObject({ handled: 2, requeued: 2 })
    const rows = await allEntries(store)
    expect(rows.map((e) => [e.reason, e.errorName])).toEqual([
      ['handler did not settle within 50 ms', 'TimeoutError'],
      ['handler did not settle within 50 ms', 'TimeoutError'],
    ])
  })

  it('abort stops taking entries: in-flight ones finish, claimed but unstarted ones are released', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 20)
    const ac = new AbortController()
    let calls = 0
    const s = await store.replay(async () => {
      if (++calls === 3) ac.abort()
    }, { signal: ac.signal, batchSize: 10, lease: '1h' })
    expect(s.stopped).toBe('abort')
    expect(s.delivered).toBe(3)
    expect(s.released).toBe(7)
    // Released at once, not after the hour-long lease.
    expect(await store.replay(() => {})).toMatchObject({ handled: 17, delivered: 17 })
  })

  it('limit stops after that many entries', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 10)
    expect(await store.replay(() => {}, { limit: 4, batchSize: 3 })).toMatchObject({ handled: 4, stopped: 'limit' })
    expect((await byState(store)).retry).toBe(6)
  })

  it('rejects unknown and invalid options by name', async () => {
    const store = await pg.store()
    await expect(store.replay(() => {}, { bogus: 1 } as never)).rejects.toThrow(/unknown store.replay\(\) option `bogus` \(known: /)
    await expect(store.replay(() => {}, { lease: 'soon' })).rejects.toThrow(/option `lease`/)
    await expect(store.replay('nope' as never)).rejects.toThrow(/needs a handler function/)
  })
})
