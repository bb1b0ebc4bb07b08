/**
 * A deadlock is a failure of the moment: the server breaks it by rolling back one of the
 * transactions, and running that one again succeeds. When the victim is a worker's settle,
 * the store settles the batch again instead of rejecting the replay (which would hand the
 * whole batch out again). Here another session takes the row locks in the other order — the
 * settle writes the delivered row, then waits on the failed one, which the session holds
 * while it asks for the delivered one — and its own deadlock check is set far later than
 * the store's sessions', so the server picks the settle as the victim. The lease is long so
 * that no renewal (every lease/3) runs meanwhile: on a loaded machine one did, waited on the
 * other session's lock too, and made a second deadlock.
 */
import fs from 'node:fs'
import path from 'node:path'
import pgClient from 'pg'
import { expect, it } from 'vitest'
import { until } from '../fixtures/counts-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { schemaOf, seed, useCluster } from './setup.js'

const pg = useCluster()

it('a settle the server picks as a deadlock victim is settled again: the replay resolves, each outcome recorded once', async () => {
  const admin = new pgClient.Client(pg.url)
  const other = new pgClient.Client(pg.url)
  await admin.connect()
  await other.connect()
  try {
    // The store's sessions (opened after this) check for a deadlock after 3 s of waiting;
    // the other session after a minute. The cycle closes within moments of the settle's wait.
    await admin.query(`ALTER DATABASE postgres SET deadlock_timeout = '3s'`)
    await other.query(`SET deadlock_timeout = '60s'`)
    const store = await pg.store()
    await seed(store, tmpDir(), 2)
    const entries = `"${schemaOf(store)}".entries`
    const seqOf = async (n: number) => (await admin.query<{ seq: string }>(`SELECT seq FROM ${entries} WHERE payload->>'n' = $1`, [String(n)])).rows[0]!.seq

    const calls: number[] = []
    let open!: () => void
    const gate = new Promise<void>((r) => (open = r))
    const run = store.replay(
      async (p: { n: number }) => {
        calls.push(p.n)
        await gate
        if (p.n === 1) throw new Error('odd')
      },
      { batchSize: 2, concurrency: 2, lease: '10m', initialWait: '1h', maxWait: '1h' },
    )
    run.catch(() => {}) // awaited below; a rejection before then must not count as unhandled
    await until(() => calls.length === 2, 30_000, 'both handlers running')
    await other.query('BEGIN')
    await other.query(`SELECT 1 FROM ${entries} WHERE seq = $1 FOR UPDATE`, [await seqOf(1)])
    open()
    // The settle has written the delivered row (n 0) and waits for the failed one (n 1).
    await until(
      async () =>
        (
          await admin.query(
            `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%AS e SET state = u.st%' AND pid <> pg_backend_pid()`,
          )
        ).rowCount === 1,
      30_000,
      'the settle waiting on the failed entry',
    )
    // Closes the cycle; returns once the server has rolled the settle back.
    await other.query(`SELECT 1 FROM ${entries} WHERE seq = $1 FOR UPDATE`, [await seqOf(0)])
    await other.query('COMMIT')

    expect(await run).toMatchObject({ handled: 2, delivered: 1, requeued: 1, released: 0 })
    expect(calls.sort()).toEqual([0, 1])
    const rows = await admin.query<{ n: string; state: string; attempt: number; lease_owner: string | null }>(
      `SELECT payload->>'n' AS n, state, attempt, lease_owner FROM ${entries} ORDER BY n`,
    )
    expect(rows.rows).toEqual([
      { n: '0', state: 'delivered', attempt: 1, lease_owner: null },
      { n: '1', state: 'retry', attempt: 2, lease_owner: null },
    ])
    // The deadlock did happen, and was the settle's.
    const log = fs.readFileSync(path.join(pg.cluster.dir, 'server.log'), 'utf8')
    expect(log.match(/ERROR: {2}deadlock detected/g)).toHaveLength(1)
  } finally {
    await other.end()
    await admin.end()
  }
})
