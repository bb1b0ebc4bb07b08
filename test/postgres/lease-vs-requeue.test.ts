/**
 * A lease is a promise: while worker A runs entries under its (renewed) lease, no requeue,
 * purge, dry run or second worker takes them away or makes them runnable again. Requeue skips
 * them and says how many (`leased`); worker B gets only what nobody holds. Every handler call
 * records entering and leaving per entry: no entry is ever in two handlers at once.
 */
import { describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { until } from '../fixtures/counts-util.js'
import { byState, handlerTracker, schemaOf, seed, useCluster } from './setup.js'

const pg = useCluster()

describe('a lease is a promise', () => {
  it('requeue, purge and their dry runs skip leased entries and report them; a second worker gets only the rest', async () => {
    const a = await pg.store()
    await seed(a, tmpDir(), 25)
    const b = await PostgresStore.connect(pg.url, { schema: schemaOf(a), host: 'host-b' })
    const { default: pgClient } = await import('pg')
    const sql = new pgClient.Client(pg.url)
    await sql.connect()
    const leases = async () =>
      (
        await sql.query<{ held: string; until: string | null }>(
          `SELECT count(*) FILTER (WHERE lease_owner IS NOT NULL) AS held, min(lease_until) AS until FROM "${schemaOf(a)}".entries`,
        )
      ).rows[0]!
    try {
      const t = handlerTracker()
      let open!: () => void
      const gate = new Promise<void>((r) => (open = r))
      // Worker A takes 20 of the 25 and holds them until the gate opens.
      const runA = a.replay(
        async (p: { n: number }) => {
          t.enter('A', p.n)
          await gate
          t.exit('A', p.n)
        },
        { batchSize: 20, limit: 20, concurrency: 20, lease: '1s' },
      )
      await until(() => t.entered.length === 20, 30_000, 'A runs 20 entries')
      const first = await leases()
      expect(Number(first.held)).toBe(20)
      // Past the first lease's end, still A's: the heartbeat renewed it.
      await until(async () => Number((await leases()).until) > Number(first.until), 30_000, 'the lease is renewed')

      const held = new Set(t.entered.map(([, n]) => n))
      expect(await a.requeue({ kind: 'retry', dryRun: true })).toMatchObject({ dryRun: true, count: 5, backend: { type: 'postgres', leased: 20 } })
      expect(await a.requeue({ kind: 'retry', dryRun: true, resetAttempts: true })).toMatchObject({ count: 5, backend: { type: 'postgres', leased: 20 } })
      expect(await a.requeue({ kind: 'retry', limit: 3, dryRun: true })).toMatchObject({ count: 3 })
      const r = await a.requeue({ kind: 'retry', resetAttempts: true })
      expect(r).toMatchObject({ dryRun: false, count: 5, backend: { type: 'postgres', leased: 20 } })
      expect(await a.requeue({ kind: 'retry', rate: 1000 })).toMatchObject({ count: 5, backend: { type: 'postgres', leased: 20 } })
      await expect(a.purge({ kind: 'retry' as never })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
      for (const kind of ['permanent', 'corrupt'] as const) expect(await a.purge({ kind })).toMatchObject({ count: 0, backend: { type: 'postgres', leased: 0 } })
      expect(Number((await leases()).held)).toBe(20)

      // Worker B, another store and owner: only the five nobody holds.
      const runB = await b.replay(
        (p: { n: number }) => {
          t.enter('B', p.n)
          t.exit('B', p.n)
        },
        { concurrency: 4 },
      )
      expect(runB).toMatchObject({ handled: 5, delivered: 5 })
      expect(t.entered.filter(([who]) => who === 'B').every(([, n]) => !held.has(n))).toBe(true)

      open()
      expect(await runA).toMatchObject({ handled: 20, delivered: 20, released: 0 })
      expect(t.overlaps).toEqual([])
      expect(t.entered).toHaveLength(25)
      expect(new Set(t.entered.map(([, n]) => n)).size).toBe(25)
      expect((await byState(a))).toMatchObject({ retry: 0, delivered: 25 })
      expect(Number((await leases()).held)).toBe(0)
    } finally {
      await sql.end()
      await b.close()
    }
  })

  it('once the lease has ended (its worker gone), requeue takes the entries', async () => {
    const a = await pg.store()
    await seed(a, tmpDir(), 4)
    const { default: pgClient } = await import('pg')
    const sql = new pgClient.Client(pg.url)
    await sql.connect()
    try {
      // What a worker killed mid-batch leaves behind: a lease nobody renews.
      await sql.query(`UPDATE "${schemaOf(a)}".entries SET lease_owner = 'gone:1:x', lease_until = (extract(epoch from clock_timestamp()) * 1000)::bigint + 300`)
      expect(await a.requeue({ kind: 'retry' })).toMatchObject({ count: 0, backend: { type: 'postgres', leased: 4 } })
      await until(async () => (await a.requeue({ kind: 'retry', dryRun: true })).count === 4, 30_000, 'the lease ends')
      expect(await a.requeue({ kind: 'retry' })).toMatchObject({ count: 4, backend: { type: 'postgres', leased: 0 } })
      expect(await a.replay(() => {})).toMatchObject({ handled: 4, delivered: 4 })
    } finally {
      await sql.end()
    }
  })
})
