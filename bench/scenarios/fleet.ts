/**
 * Scenario: a fleet on one central store (issue 21), on a throwaway PostgreSQL cluster
 * (fsync off; server and bench share the machine's cores). argv[2] picks the part:
 *
 *   stats    store.stats() (kept counts) and a central scrape (the inspector's BackendSource
 *            counts: what /metrics reads) at 500k and 5M rows, against the old full scan at
 *            500k. Rows made by INSERT … SELECT generate_series: 16 hosts, 50 reason groups,
 *            70 % delivered, 20 % permanent, 9 % retry deferred, 1 % retry due now.
 *   ship16   16 shipper processes on 16 logs at once against one shipper alone.
 *   replay8  8 central replay workers (one process, 8 concurrent store.replay()) against the
 *            bare claim+delete loop on 8 connections, batch 1 / 100 / 500, on a table loaded a
 *            moment ago (never analyzed, autovacuum off) and after ANALYZE; with WAL bytes and
 *            table growth per drained entry beside a plain UPDATE-based queue (claim UPDATE +
 *            complete UPDATE, as pg-boss does).
 *
 * `ship-child` is this file run as a shipper process (forked by ship16).
 */
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { PostgresStore } from '../../src/postgres/index.js'
import { centralStats } from '../../src/postgres/stats.js'
import { tablesFor } from '../../src/postgres/schema.js'
import { centralFilter, compileFilter } from '../../src/postgres/filters.js'
import { findPgBin, startCluster } from '../../test/postgres/cluster.js'
import { type Row, QUICK, fail, median, now, orderPool, perSec, report, rmScratch, scratchDir, writeSegments } from '../lib/common.js'

const GROUP = '8. fleet on one central store (PostgreSQL)'
const PIN = `SET enable_sort = off; SET enable_bitmapscan = off; SET enable_seqscan = off`

async function timed(fn: () => Promise<unknown>, runs = 5): Promise<number> {
  const ms: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = now()
    await fn()
    ms.push(now() - t0)
  }
  return median(ms)
}

/** `n` more rows of the stats mix, in statements of 500k. */
async function load(c: pg.Client, table: string, from: number, n: number): Promise<void> {
  for (let at = from; at < from + n; at += 500_000) {
    const to = Math.min(from + n, at + 500_000) - 1
    await c.query(
      `INSERT INTO ${table} (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, ts, due_ts, payload, shipped_at, updated_at)
       SELECT gen_random_uuid(), 'host-' || (i % 16), '/var/log/app/dlq.log', 's', i,
              CASE WHEN i % 100 < 70 THEN 'delivered' WHEN i % 100 < 90 THEN 'permanent' ELSE 'retry' END,
              1, 'upstream ' || (i * 7 % 50) || ' timed out', 'upstream ' || (i * 7 % 50) || ' timed out',
              1700000000000 + i, CASE WHEN i % 100 = 99 THEN 0 ELSE 9e15::bigint END, '{"order":1}'::jsonb, 0, 0
       FROM generate_series($1::bigint, $2::bigint) AS i`,
      [at, to],
    )
  }
}

async function statsPart(): Promise<{ rows: Row[]; notes: string[] }> {
  const sizes = QUICK ? [50_000, 500_000] : [500_000, 5_000_000]
  const cluster = await startCluster()
  const c = new pg.Client({ connectionString: cluster.url })
  await c.connect()
  try {
    const store = await PostgresStore.connect(cluster.url, { schema: 'fleet', host: 'bench' })
    const t = tablesFor('fleet')
    const db = (store as unknown as { db: Parameters<typeof centralStats>[0] }).db
    // What the inspector's counts (and /metrics) read: BackendSource.readCounts.
    const scrape = () => store.stats({ fast: true })
    const { filter, scope } = centralFilter(undefined, undefined)
    const all = compileFilter(filter, scope, undefined, 1)
    const out: Array<{ size: number; stats: number; scrape: number; scan?: number; loadS: number }> = []
    let loaded = 0
    for (const size of sizes) {
      const t0 = now()
      await load(c, t.entries, loaded, size - loaded)
      loaded = size
      await c.query(`VACUUM ANALYZE ${t.entries}`)
      const loadS = (now() - t0) / 1000
      await store.stats()
      const stats = await timed(() => store.stats())
      const sc = await timed(scrape)
      const scan = size === sizes[0] ? await timed(() => centralStats(db, t, all, { top: 10, fast: false, groupBy: 'last' }), 3) : undefined
      process.stderr.write(`  ${size} rows: stats ${stats.toFixed(1)} ms, scrape ${sc.toFixed(1)} ms${scan ? `, scan ${scan.toFixed(0)} ms` : ''} (loaded in ${loadS.toFixed(0)} s)\n`)
      out.push({ size, stats, scrape: sc, loadS, ...(scan !== undefined ? { scan } : {}) })
    }
    await store.close()
    const [a, b] = out as [(typeof out)[0], (typeof out)[0]]
    const k = (n: number) => `${n / 1000}k`.replace('000k', 'M')
    return {
      rows: [
        { group: GROUP, name: `stats() at ${k(a.size)} rows`, payload: 'kept', value: a.stats, unit: 'ms', lowerIsBetter: true, note: `full scan (before): ${a.scan!.toFixed(0)} ms` },
        { group: GROUP, name: `stats() at ${k(b.size)} rows`, payload: 'kept', value: b.stats, unit: 'ms', lowerIsBetter: true, target: 50, note: `${(b.stats / a.stats).toFixed(2)}× the ${k(a.size)} figure (target ≤ 1.5×); load ${b.loadS.toFixed(0)} s` },
        { group: GROUP, name: `central scrape at ${k(a.size)} rows`, payload: 'kept', value: a.scrape, unit: 'ms', lowerIsBetter: true, note: 'BackendSource counts: one stats({ fast: true })' },
        { group: GROUP, name: `central scrape at ${k(b.size)} rows`, payload: 'kept', value: b.scrape, unit: 'ms', lowerIsBetter: true, target: 50, note: `${(b.scrape / a.scrape).toFixed(2)}× the ${k(a.size)} figure (target ≤ 1.5×)` },
        { group: GROUP, name: `stats() ${k(b.size)} / ${k(a.size)}`, payload: 'kept', value: b.stats / a.stats, unit: '×', lowerIsBetter: true, target: 1.5 },
        { group: GROUP, name: `scrape ${k(b.size)} / ${k(a.size)}`, payload: 'kept', value: b.scrape / a.scrape, unit: '×', lowerIsBetter: true, target: 1.5 },
      ],
      notes: ['fleet stats: rows by INSERT … SELECT generate_series (16 hosts, 50 groups, 70 % delivered, 20 % permanent, 9 % retry deferred, 1 % due), VACUUM ANALYZE after loading; median of 5 calls. Due now is a range count of entries_due: it grows with the rows due now (1 % here).'],
    }
  } finally {
    await c.end()
    cluster.destroy()
  }
}

async function shipPart(): Promise<{ rows: Row[]; notes: string[] }> {
  const per = QUICK ? 10_000 : 40_000
  const procs = 16
  const cores = os.availableParallelism?.() ?? os.cpus().length
  const cluster = await startCluster()
  const dir = scratchDir('fleet-ship')
  const pool = orderPool('120B')
  try {
    const logs = Array.from({ length: procs + 1 }, (_, i) => {
      const d = path.join(dir, `h${i}`)
      fs.mkdirSync(d, { recursive: true })
      writeSegments(d, 'app', pool, per)
      return path.join(d, 'app.log')
    })
    const ship = async (which: string[]): Promise<number> => {
      const kids = which.map((log, i) => fork(process.argv[1]!, ['ship-child', cluster.url, log, `host-${i}`], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
      await Promise.all(kids.map((k) => new Promise((r) => k.once('message', r))))
      const t0 = now()
      for (const k of kids) k.send('go')
      await Promise.all(kids.map((k) => new Promise((r, j) => k.once('exit', (code) => (code === 0 ? r(code) : j(new Error(`shipper exited ${code}`)))))))
      return now() - t0
    }
    const one = perSec(per, await ship([logs[procs]!]))
    // The same again with the count triggers disabled: what keeping the counts costs a ship.
    const plain = scratchDir('fleet-ship-plain')
    writeSegments(plain, 'app', pool, per)
    const c = new pg.Client({ connectionString: cluster.url })
    await c.connect()
    await c.query(`ALTER TABLE fleet.entries DISABLE TRIGGER USER`)
    const untriggered = perSec(per, await ship([path.join(plain, 'app.log')]))
    await c.query(`ALTER TABLE fleet.entries ENABLE TRIGGER USER`)
    await c.end()
    rmScratch(plain)
    const many = perSec(per * procs, await ship(logs.slice(0, procs)))
    const want = one * Math.min(16, cores)
    return {
      rows: [
        { group: GROUP, name: 'ship, one shipper process', payload: '120B', value: one, unit: 'entries/s', note: `${per.toLocaleString('en-US')} entries; with the count triggers disabled ${Math.round(untriggered).toLocaleString('en-US')}/s (${(one / untriggered).toFixed(2)}×)` },
        {
          group: GROUP,
          name: `ship, ${procs} shipper processes at once`,
          payload: '120B',
          value: many,
          unit: 'entries/s',
          target: 0.8 * want,
          note: `${(many / want).toFixed(2)}× one shipper × min(16, ${cores} cores) (target ≥ 0.8×); ${procs} × ${per.toLocaleString('en-US')} entries`,
        },
      ],
      notes: ['fleet ship: each shipper is its own process (connected and ready before the clock starts), on its own log and host name; server on the same cores.'],
    }
  } finally {
    cluster.destroy()
    rmScratch(dir)
  }
}

async function shipChild(url: string, log: string, host: string): Promise<void> {
  const store = await PostgresStore.connect(url, { schema: 'fleet', host })
  process.send!('ready')
  await new Promise((r) => process.once('message', r))
  await store.ship(log, { batchSize: 1000 })
  await store.close()
  process.disconnect()
}

interface Drain {
  ms: number
  walPerEntry: number
  growthPerEntry: number
}

async function measure(c: pg.Client, tables: string[], n: number, fn: () => Promise<void>): Promise<Drain> {
  const size = async () => {
    let s = 0
    for (const t of tables) s += Number((await c.query(`SELECT pg_total_relation_size($1::regclass) AS s`, [t])).rows[0].s)
    return s
  }
  await c.query('CHECKPOINT')
  const s0 = await size()
  const w0 = (await c.query('SELECT pg_current_wal_lsn() AS l')).rows[0].l
  const t0 = now()
  await fn()
  const ms = now() - t0
  const wal = Number((await c.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS d', [w0])).rows[0].d)
  return { ms, walPerEntry: wal / n, growthPerEntry: ((await size()) - s0) / n }
}

async function replayPart(): Promise<{ rows: Row[]; notes: string[] }> {
  const workers = 8
  const cluster = await startCluster()
  const c = new pg.Client({ connectionString: cluster.url })
  await c.connect()
  const rows: Row[] = []
  const payload = JSON.stringify(orderPool('120B')[0])
  try {
    let round = 0
    for (const phase of ['fresh', 'analyzed'] as const) {
      for (const batch of [1, 100, 500]) {
        const n = batch === 1 ? (QUICK ? 4_000 : 20_000) : QUICK ? 20_000 : 100_000
        const schema = `r${++round}`
        const store = await PostgresStore.connect(cluster.url, { schema, host: 'bench', maxConnections: workers + 2 })
        const t = tablesFor(schema)
        await c.query(`CREATE TABLE ${schema}.bare (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, due_ts bigint NOT NULL, payload jsonb)`)
        await c.query(`CREATE INDEX ON ${schema}.bare (due_ts)`)
        await c.query(`CREATE TABLE ${schema}.upd (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, state text NOT NULL, due_ts bigint NOT NULL, payload jsonb, started_at bigint, completed_at bigint)`)
        await c.query(`CREATE INDEX ON ${schema}.upd (due_ts) WHERE state = 'created'`)
        for (const tbl of [t.entries, `${schema}.bare`, `${schema}.upd`]) await c.query(`ALTER TABLE ${tbl} SET (autovacuum_enabled = ${phase === 'analyzed'})`)
        await c.query(
          `INSERT INTO ${t.entries} (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, ts, due_ts, payload, shipped_at, updated_at)
           SELECT gen_random_uuid(), 'h', 'l', 's', i, 'retry', 1, 'boom', 'boom', i, 0, $2::jsonb, 0, 0 FROM generate_series(1, $1::int) AS i`,
          [n, payload],
        )
        await c.query(`INSERT INTO ${schema}.bare (due_ts, payload) SELECT 0, $2::jsonb FROM generate_series(1, $1::int)`, [n, payload])
        await c.query(`INSERT INTO ${schema}.upd (state, due_ts, payload) SELECT 'created', 0, $2::jsonb FROM generate_series(1, $1::int)`, [n, payload])
        if (phase === 'analyzed') await c.query(`ANALYZE ${t.entries}; ANALYZE ${schema}.bare; ANALYZE ${schema}.upd`)

        const ours = await measure(c, [t.entries, `${schema}.count_deltas`, `${schema}.counts`], n, async () => {
          const rs = await Promise.all(Array.from({ length: workers }, () => store.replay(() => {}, { batchSize: batch })))
          const d = rs.reduce((a, r) => a + r.delivered, 0)
          if (d !== n) throw new Error(`delivered ${d} of ${n}`)
        })
        let untriggered: number | undefined
        if (batch === 100) {
          // The same drain with the count triggers disabled: what keeping the counts costs.
          await c.query(`UPDATE ${t.entries} SET state = 'retry', lease_owner = NULL, lease_until = NULL`)
          await c.query(`ALTER TABLE ${t.entries} DISABLE TRIGGER USER`)
          const t0 = now()
          await Promise.all(Array.from({ length: workers }, () => store.replay(() => {}, { batchSize: batch })))
          untriggered = perSec(n, now() - t0)
          await c.query(`ALTER TABLE ${t.entries} ENABLE TRIGGER USER`)
        }
        await store.close()
        const conns = await Promise.all(
          Array.from({ length: workers }, async () => {
            const k = new pg.Client({ connectionString: cluster.url })
            await k.connect()
            await k.query(PIN)
            return k
          }),
        )
        const loop = async (step: (k: pg.Client) => Promise<number>) => {
          await Promise.all(conns.map(async (k) => {
            while ((await step(k)) > 0) {}
          }))
        }
        const bare = await measure(c, [`${schema}.bare`], n, () =>
          loop(async (k) => {
            const r = await k.query(
              `DELETE FROM ${schema}.bare WHERE seq IN (SELECT seq FROM ${schema}.bare WHERE due_ts <= $2 ORDER BY due_ts LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING seq, payload`,
              [batch, Date.now()],
            )
            return r.rowCount ?? 0
          }),
        )
        const upd = await measure(c, [`${schema}.upd`], n, () =>
          loop(async (k) => {
            const r = await k.query<{ id: string }>(
              `UPDATE ${schema}.upd SET state = 'active', started_at = $2 WHERE id IN (
                 SELECT id FROM ${schema}.upd WHERE state = 'created' AND due_ts <= $2 ORDER BY due_ts LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, payload`,
              [batch, Date.now()],
            )
            if (r.rows.length > 0) await k.query(`UPDATE ${schema}.upd SET state = 'completed', completed_at = $2 WHERE id = ANY($1::bigint[])`, [r.rows.map((x) => x.id), Date.now()])
            return r.rowCount ?? 0
          }),
        )
        await Promise.all(conns.map((k) => k.end()))
        const rate = perSec(n, ours.ms)
        const bareRate = perSec(n, bare.ms)
        const b = (x: number) => `${Math.round(x)} B`
        process.stderr.write(`  ${phase} batch ${batch}: ${Math.round(rate)}/s vs bare ${Math.round(bareRate)}/s, UPDATE queue ${Math.round(perSec(n, upd.ms))}/s; WAL/entry ${b(ours.walPerEntry)} vs UPDATE queue ${b(upd.walPerEntry)}, bare ${b(bare.walPerEntry)}\n`)
        rows.push({
          group: GROUP,
          name: `central replay, ${workers} workers, batch ${batch}, ${phase} table`,
          payload: '120B',
          value: rate,
          unit: 'entries/s',
          target: 0.8 * bareRate,
          note:
            `${(rate / bareRate).toFixed(2)}× the bare claim+delete loop (${Math.round(bareRate).toLocaleString('en-US')}/s; target ≥ 0.8×); ${(rate / perSec(n, upd.ms)).toFixed(2)}× the UPDATE queue (${Math.round(perSec(n, upd.ms)).toLocaleString('en-US')}/s, itself ${(perSec(n, upd.ms) / bareRate).toFixed(2)}× the bare loop). ` +
            `Per drained entry — WAL: ${b(ours.walPerEntry)} (UPDATE queue ${b(upd.walPerEntry)}, bare delete ${b(bare.walPerEntry)}); growth: ${b(ours.growthPerEntry)} (UPDATE queue ${b(upd.growthPerEntry)}, bare delete ${b(bare.growthPerEntry)}); ${n.toLocaleString('en-US')} entries${untriggered !== undefined ? `; with the count triggers disabled ${Math.round(untriggered).toLocaleString('en-US')}/s` : ''}`,
        })
      }
    }
    return {
      rows,
      notes: [
        'fleet replay: one process, 8 concurrent store.replay() (no-op handler) against 8 connections running the bare claim+delete statement (and an UPDATE-based queue: claim UPDATE, complete UPDATE) with the same plan settings; WAL = pg_current_wal_lsn() difference, growth = pg_total_relation_size() difference (dletter: entries + counts tables), after a CHECKPOINT; full_page_writes off in the bench cluster.',
      ],
    }
  } finally {
    await c.end()
    cluster.destroy()
  }
}

const part = process.argv[2]
if (part === 'ship-child') {
  await shipChild(process.argv[3]!, process.argv[4]!, process.argv[5]!)
} else {
  try {
    if (!findPgBin()) report({ rows: [], notes: ['fleet: skipped, no PostgreSQL server binaries'] })
    else report(await (part === 'stats' ? statsPart() : part === 'ship16' ? shipPart() : replayPart()))
  } catch (err) {
    fail(err)
  }
}
