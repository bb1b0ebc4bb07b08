/**
 * A worker's lease renewal and its own settle never deadlock. With a short lease the
 * heartbeat renews the batch's rows while the batch settles; both update the same rows, and
 * when they ran at once on two connections PostgreSQL found a deadlock (40P01), the replay
 * rejected and the batch was handed out again. Now the worker never runs the two at once: no
 * deadlock at all, not even one the store retried. The handler's delays are seeded (printed).
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { Rng } from '../helpers/rng.js'
import { tmpDir } from '../helpers/tmp.js'
import { byState, seed, useCluster } from './setup.js'

const pg = useCluster()
const SEED = Number(process.env.DLQ_TEST_SEED) || Math.floor(Math.random() * 2 ** 31) + 1
const N = 5000

it('renewals run while batches settle: the replay settles every entry once, no deadlock', async () => {
  console.log(`renew-vs-settle seed: ${SEED} (DLQ_TEST_SEED=${SEED} to repeat)`)
  const rng = new Rng(SEED)
  const store = await pg.store()
  await seed(store, tmpDir(), N)
  const calls = new Map<number, number>()
  const r = await store.replay(
    async (p: { n: number }) => {
      calls.set(p.n, (calls.get(p.n) ?? 0) + 1)
      const wait = rng.int(0, 40)
      await new Promise((res) => setTimeout(res, wait))
      if (p.n % 2 === 1) throw new Error(`odd ${p.n}`)
    },
    // A lease this short renews every 50 ms: many renewals overlap a settle.
    { lease: 100, batchSize: 200, concurrency: 50, initialWait: '1h', maxWait: '1h' },
  )
  expect(r).toMatchObject({ handled: N, delivered: N / 2, requeued: N / 2 })
  // Each entry ran once: a batch whose settle failed would have been handed out again.
  expect(calls.size).toBe(N)
  expect([...calls.values()].every((c) => c === 1)).toBe(true)
  expect((await byState(store))).toMatchObject({ retry: N / 2, delivered: N / 2 })
  // Not even one retried away (the store runs a transaction that failed with 40P01 again):
  // the server logs every deadlock it breaks before the failing statement returns.
  const log = fs.readFileSync(path.join(pg.cluster.dir, 'server.log'), 'utf8')
  expect(log.match(/^.*deadlock detected.*$/gm) ?? []).toEqual([])
}, 120_000)
