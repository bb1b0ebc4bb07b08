/**
 * A batch that only delivered is settled by the worker's next claim, in the same statement:
 * one round trip per batch. Whatever ends the run — nothing due, `limit`, abort — every
 * delivery is settled before replay() returns, and the kept counts stay equal to a recount.
 */
import { describe, expect, it } from 'vitest'
import type { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { byState, schemaOf, seed, useCluster } from './setup.js'

const pg = useCluster()

interface Q {
  query(text: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>
}
interface Db extends Q {
  pinned: Q
  tx<T>(fn: (q: Q) => Promise<T>): Promise<T>
}

/** Counts the statements a store sends on its own transactions and on pinned sessions (the seam in db.ts). */
function countStatements(store: PostgresStore): { pinned: number; tx: number } {
  const db = (store as unknown as { db: Db }).db
  const n = { pinned: 0, tx: 0 }
  const pinned = db.pinned.query.bind(db.pinned)
  db.pinned.query = (text, params) => {
    n.pinned++
    return pinned(text, params)
  }
  const tx = db.tx.bind(db)
  db.tx = (fn) => {
    n.tx++
    return tx(fn)
  }
  return n
}

async function recount(store: PostgresStore): Promise<Record<string, number>> {
  const db = (store as unknown as { db: Db }).db
  const r = await db.query(`SELECT state, count(*)::int AS n FROM "${schemaOf(store)}".entries GROUP BY state`)
  return Object.fromEntries(r.rows.map((x) => [x.state as string, x.n as number]))
}

describe('central replay settles a delivered batch with its next claim', () => {
  it('batch 1: ten deliveries take eleven statements (ten claims, the last one empty) and the fold of the counts', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 10)
    const n = countStatements(store)
    expect(await store.replay(() => {}, { batchSize: 1 })).toMatchObject({ delivered: 10 })
    expect(n).toEqual({ pinned: 11, tx: 1 })
    expect(await byState(store)).toMatchObject({ retry: 0, delivered: 10 })
    expect(await recount(store)).toEqual({ delivered: 10 })
    await store.close()
  })

  it('a batch with failures settles in its own transaction; the deliveries before it are settled too', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 6)
    const r = await store.replay(
      (p) => {
        if ((p as { n: number }).n === 3) throw new Error('still down')
      },
      { batchSize: 2, initialWait: 60_000 },
    )
    expect(r).toMatchObject({ delivered: 5, requeued: 1 })
    expect(await byState(store)).toMatchObject({ retry: 1, delivered: 5 })
    expect(await recount(store)).toEqual({ retry: 1, delivered: 5 })
    await store.close()
  })

  it('a run ended by `limit` or by abort has settled every delivery when it returns', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 8)
    expect(await store.replay(() => {}, { batchSize: 1, limit: 3 })).toMatchObject({ delivered: 3, stopped: 'limit' })
    expect(await recount(store)).toEqual({ retry: 5, delivered: 3 })
    const ac = new AbortController()
    let seen = 0
    const r = await store.replay(
      () => {
        if (++seen === 2) ac.abort()
      },
      { batchSize: 1, signal: ac.signal },
    )
    expect(r).toMatchObject({ delivered: 2, stopped: 'abort' })
    expect(await recount(store)).toEqual({ retry: 3, delivered: 5 })
    expect(await byState(store)).toMatchObject({ retry: 3, delivered: 5 })
    await store.close()
  })
})
