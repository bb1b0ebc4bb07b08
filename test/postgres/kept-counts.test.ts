/**
 * The kept counts (src/postgres/kept-counts.ts) stay exact: after a seeded random mix of
 * shipping from several hosts, central replay in worker processes SIGKILLed at random
 * instants, requeue, purge, prune and an operator's own SQL, what store.stats() reads from
 * them equals a full recount of the rows, and the whole `Stats` equals the scan's (stats.ts)
 * with and without `fast`, unfiltered and by host and fingerprint — checked after every step.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import type { Db } from '../../src/postgres/db.js'
import { countTables, DUE_BUCKET_MS, KEY_COLUMNS } from '../../src/postgres/counts-schema.js'
import type { Stats } from '../../src/format/model.js'
import { centralFilter, compileFilter } from '../../src/postgres/filters.js'
import { keptCanAnswer } from '../../src/postgres/kept-counts.js'
import { centralStats } from '../../src/postgres/stats.js'
import { NOW_MS, tablesFor } from '../../src/postgres/schema.js'
import type { PostgresStore } from '../../src/postgres/index.js'
import { exited, forkFixture, killAfterTest } from '../helpers/child.js'
import { Rng } from '../helpers/rng.js'
import { tmpDir } from '../helpers/tmp.js'
import { schemaOf, useCluster } from './setup.js'

const pg = useCluster()
const dbOf = (s: PostgresStore) => (s as unknown as { db: Db }).db

/** Kept (stats() from the counts) against scanned (the GROUP BY over every row), whole and per filter. */
async function expectExact(store: PostgresStore, step: string): Promise<void> {
  const t = tablesFor(schemaOf(store))
  const c = countTables(t.schema)
  const db = dbOf(store)
  const raw = async (sql: string) => (await db.query<{ k: string; n: string }>(sql)).rows.map((r) => `${r.k}=${r.n}`)
  // Every kept column, recounted from the rows as they are (written out here, not taken from the trigger).
  const key = `concat_ws('|', ${KEY_COLUMNS.split(', ').join(', ')})`
  const kept = await raw(
    `SELECT ${key} AS k, sum(n) AS n FROM (SELECT ${KEY_COLUMNS}, n FROM ${c.counts} UNION ALL SELECT ${KEY_COLUMNS}, n FROM ${c.deltas}) x GROUP BY 1 HAVING sum(n) <> 0 ORDER BY 1`,
  )
  const recount = await raw(
    `SELECT ${key} AS k, count(*) AS n FROM (
       SELECT state, host, fingerprint, CASE WHEN state = 'retry' THEN attempt ELSE 0 END AS attempt,
              CASE WHEN state = 'permanent' THEN coalesce(final, 'unknown') ELSE '' END AS final,
              state = 'retry' AND lease_until IS NOT NULL AS leased, CASE WHEN state = 'retry' THEN trunc(due_ts / ${DUE_BUCKET_MS}::numeric) ELSE 0 END AS due_bucket
       FROM ${t.entries}) x GROUP BY 1 ORDER BY 1`,
  )
  expect(kept, step).toEqual(recount)
  const fp = (await db.query<{ fingerprint: string }>(`SELECT fingerprint FROM ${t.entries} ORDER BY seq LIMIT 1`)).rows[0]?.fingerprint ?? 'none'
  const filters: Array<{ host?: string | string[]; fingerprint?: string }> = [{}, { host: ['host-b', 'host-z'] }, { fingerprint: fp }, { fingerprint: fp, host: 'host-c' }]
  for (const filter of filters) {
    for (const fast of [false, true]) {
      const { filter: nf, scope } = centralFilter(filter, undefined)
      expect(keptCanAnswer(nf, scope)).toBe(true)
      const a = await store.stats({ ...filter, top: 3, fast })
      const b = await centralStats(db, t, compileFilter(nf, scope, undefined, 1), { top: 3, fast, groupBy: 'last' })
      // The two reads take `now` apart: a retry entry falling due between them changes due and
      // deferred (not the counts); compared only when none did.
      const crossed = await db.query(`SELECT 1 FROM ${t.entries} WHERE state = 'retry' AND due_ts > $1 AND due_ts <= $2 LIMIT 1`, [a.at, b.at])
      const strip = (s: Stats) => ({
        ...s,
        at: 0,
        ...(crossed.rows.length > 0 ? { retry: { ...s.retry, due: 0, deferred: 0, nextDueTs: null }, hosts: s.hosts?.map((h) => ({ ...h, due: 0 })) } : {}),
      })
      expect(strip(a), `${step}, ${JSON.stringify(filter)}, fast ${fast}`).toEqual(strip(b))
    }
  }
}

/** Until no row is under a live lease (killed workers' leases end): due counts hold still between reads. */
async function leasesEnded(store: PostgresStore): Promise<void> {
  const t = tablesFor(schemaOf(store))
  for (let i = 0; ; i++) {
    const r = await dbOf(store).query<{ n: string }>(`SELECT count(*) AS n FROM ${t.entries} WHERE lease_until >= ${NOW_MS}`)
    if (Number(r.rows[0]!.n) === 0) return
    if (i > 1000) throw new Error('leases never ended')
    await new Promise((res) => setTimeout(res, 10))
  }
}

async function shipLog(store: PostgresStore, dir: string, name: string, rng: Rng, first: number, n: number): Promise<void> {
  const logPath = path.join(dir, `${name}.log`)
  const dlq = await Logger.open(logPath)
  for (let i = first; i < first + n; i++) {
    const reason = rng.pick(['connect ECONNREFUSED 10.0.0.' + rng.int(1, 9), 'HTTP 503 from billing', `order ${i} not found`, 'schema mismatch'])
    if (rng.chance(0.2)) await dlq.logPermanent({ n: i }, reason)
    else await dlq.log({ n: i }, reason)
  }
  await dlq.close()
  if (rng.chance(0.5)) fs.appendFileSync(path.join(dir, `${name}.000000009999.log`), `garbage ${first}\n`)
  await store.ship(logPath)
}

describe('kept counts', () => {
  it('equal a full recount after a random mix of ship, replay with SIGKILLed workers, requeue, purge and prune', async () => {
    const seedValue = Number(process.env.DLQ_SEED ?? Date.now() % 1_000_000)
    console.log(`kept counts seed: ${seedValue} (DLQ_SEED=${seedValue} to repeat)`)
    const rng = new Rng(seedValue)
    const a = await pg.store({ host: 'host-a' })
    const schema = schemaOf(a)
    const others = await Promise.all(['host-b', 'host-c'].map((host) => pg.store({ schema, host })))
    const stores = [a, ...others]
    const dir = tmpDir()
    let next = 0
    let handled = 0
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of stores.entries()) {
        const n = rng.int(100, 400)
        await shipLog(s, dir, `r${round}h${i}`, rng, next, n)
        next += n
      }
      await expectExact(a, `round ${round}: shipped`)

      // Workers in processes, each SIGKILLed once it has handled a random number of entries.
      const kids = Array.from({ length: 3 }, () => killAfterTest(forkFixture(path.join('..', 'postgres', 'fixtures', 'mixed-worker-child.ts'), [pg.url, schema, '300', String(rng.pick([1, 10, 50]))])))
      await Promise.all(
        kids.map(async (k) => {
          const killAt = rng.int(1, 300)
          let seen = 0
          await new Promise<void>((resolve) => {
            k.on('message', (m: { seen?: number[] }) => {
              seen += m.seen?.length ?? 0
              handled += m.seen?.length ?? 0
              if (seen >= killAt) {
                k.kill('SIGKILL')
                resolve()
              }
            })
            k.once('exit', () => resolve())
          })
          await exited(k)
        }),
      )
      await leasesEnded(a)
      await expectExact(a, `round ${round}: workers killed`)

      // Due times around now, some in now's due bucket (counted by a range, not kept), some before.
      await dbOf(a).query(
        `UPDATE "${schema}".entries SET due_ts = ${NOW_MS} + (random() * 1200000 - 900000)::bigint WHERE seq IN (SELECT seq FROM "${schema}".entries WHERE state = 'retry' ORDER BY random() LIMIT 20)`,
      )
      await expectExact(a, `round ${round}: due times moved`)

      // A live worker holds a batch under a long lease: its rows are not due, and kept and scanned agree.
      let held!: () => void
      const holding = new Promise<void>((resolve) => (held = resolve))
      let started!: () => void
      const claimed = new Promise<void>((resolve) => (started = resolve))
      const worker = a.replay(
        async () => {
          started()
          await holding
        },
        { batchSize: rng.int(1, 20), concurrency: 1, lease: 60_000, limit: 20 },
      )
      await Promise.race([claimed, worker])
      await expectExact(a, `round ${round}: leased`)
      held()
      await worker

      const fps = (await a.stats()).permanent.reasons.map((g) => g.fingerprint)
      if (fps.length > 0) await a.requeue({ kind: 'permanent', fingerprint: rng.pick(fps), limit: rng.int(1, 50) })
      await expectExact(a, `round ${round}: requeued`)
      await a.purge({ kind: rng.pick(['permanent', 'corrupt'] as const), host: rng.pick(['host-a', 'host-b', 'host-c']) })
      await expectExact(a, `round ${round}: purged`)
      if (rng.chance(0.7)) await a.prune({ olderThan: 0 })
      await expectExact(a, `round ${round}: pruned`)
      // An operator's own statement is counted too (the triggers see every statement).
      await dbOf(a).query(`UPDATE "${schema}".entries SET host = 'host-z' WHERE seq IN (SELECT seq FROM "${schema}".entries ORDER BY random() LIMIT 5)`)
      await expectExact(a, `round ${round}: operator SQL`)
    }
    // Leases of killed workers end; a last replay settles what is due.
    await leasesEnded(a)
    for (let tries = 0; (await a.stats({ fast: true })).retry.due > 0 && tries < 50; tries++) await a.replay(() => {}, { initialWait: 1, maxWait: 5 })
    await expectExact(a, 'drained')
    const s = await a.stats()
    console.log(`entries ${next}; retry ${s.retry.count}, permanent ${s.permanent.count}, corrupt ${s.corrupt.count}, settled ${JSON.stringify(s.backend)}`)
    console.log(`handled in killed workers: ${handled}`)
    expect(handled).toBeGreaterThan(0)
  }, 240_000)
})
