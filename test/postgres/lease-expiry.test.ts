/**
 * A worker starts a handler only under a lease it can vouch for. When its event loop was
 * blocked past the lease (no renewal could run) and another worker has claimed the batch
 * meanwhile, the rest of the batch is not run a second time at once: it is given back
 * unstarted. Handler entry and exit are recorded per entry, across both processes.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, forkFixture, killAfterTest } from '../helpers/child.js'
import { tmpDir } from '../helpers/tmp.js'
import { until } from '../fixtures/counts-util.js'
import { byState, handlerTracker, schemaOf, seed, useCluster } from './setup.js'

const pg = useCluster()

describe("a worker's own lease", () => {
  it('after a stall longer than the lease, the rest of the batch is left to the worker that claimed it since', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 5)
    const schema = schemaOf(store)
    const flag = path.join(tmpDir(), 'unblock')
    const t = handlerTracker()
    let aSummary: Record<string, unknown> | undefined
    // Worker A, a process of its own: its first handler call blocks the event loop (no
    // renewal can run) until the flag file exists.
    const a = killAfterTest(forkFixture(path.join('..', 'postgres', 'fixtures', 'stall-worker-child.ts'), [pg.url, schema, '1000', flag]))
    a.on('message', (m: { enter?: number; exit?: number; summary?: Record<string, unknown> }) => {
      if (m.enter !== undefined) t.enter('A', m.enter)
      if (m.exit !== undefined) t.exit('A', m.exit)
      if (m.summary) aSummary = m.summary
    })
    await until(() => t.entered.length === 1, 30_000, 'A is stalled in its first handler call')
    const stalled = t.entered[0]![1]
    await until(async () => (await store.stats()).retry.due === 5, 30_000, "A's lease has ended")
    // Worker B claims the batch A can no longer vouch for. The entry A is stuck in is the
    // unavoidable overlap of a handler that blocks past its lease: B waits for A to leave it
    // (that is not what this test is about). The others B holds until A has finished.
    let bCalls = 0
    const runB = store.replay(
      async (p: { n: number }) => {
        bCalls++
        if (p.n === stalled) await until(() => t.exited.includes(`A:${stalled}`), 30_000, 'A leaves its stalled call')
        t.enter('B', p.n)
        await until(() => aSummary !== undefined, 30_000, 'A finishes')
        t.exit('B', p.n)
      },
      { concurrency: 5, lease: 1000 },
    )
    await until(() => bCalls === 5, 30_000, 'B has all five')
    fs.writeFileSync(flag, '')
    expect(await runB).toMatchObject({ handled: 5, delivered: 5 })
    expect(t.overlaps).toEqual([])
    expect(t.entered.filter(([who]) => who === 'A').map(([, n]) => n)).toEqual([stalled])
    expect(aSummary).toMatchObject({ handled: 1, released: 4 })
    expect((await exited(a)).code).toBe(0)
    expect((await byState(store))).toMatchObject({ retry: 0, delivered: 5 })
  })

  it('a handler running past several lease lengths keeps its lease, and the batch runs to the end', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 3)
    const lease = 300
    let renewals = 0
    const { default: pgClient } = await import('pg')
    const sql = new pgClient.Client(pg.url)
    await sql.connect()
    const schema = schemaOf(store)
    const leaseUntil = async () => Number((await sql.query(`SELECT max(lease_until) AS u FROM "${schema}".entries`)).rows[0].u)
    try {
      const s = await store.replay(
        async (p: { n: number }) => {
          if (p.n !== 0) return
          // Wait for two renewals (conditions, not a fixed sleep): the lease moves on.
          let last = await leaseUntil()
          while (renewals < 2) {
            await new Promise((r) => setTimeout(r, 20))
            const now = await leaseUntil()
            if (now > last) renewals++
            last = now
          }
        },
        { lease, batchSize: 3, concurrency: 1 },
      )
      expect(s).toMatchObject({ handled: 3, delivered: 3, released: 0 })
    } finally {
      await sql.end()
    }
  })
})
