/**
 * Scenario: the fleet's central store on a local PostgreSQL (a throwaway cluster started
 * here, fsync off — the bench measures dletter's work, not the disk).
 *
 *   bare unnest  INSERT … SELECT FROM unnest(arrays) of pre-built rows into the same table
 *                with the same indexes, 2000 rows per statement: the ceiling for shipping
 *   ship         store.ship(): read segments, parse, key, fingerprint, insert, delete files
 *   replay       4 concurrent store.replay() workers with a no-op handler (claim with
 *                SKIP LOCKED + lease, settle) over the shipped entries
 * Both are reported as entries/s and as a ratio to the bare loop of the same run. Skipped
 * (with a note) when no PostgreSQL server binaries are installed.
 */
import crypto from 'node:crypto'
import path from 'node:path'
import { PostgresStore } from '../../src/postgres/index.js'
import { findPgBin, startCluster } from '../../test/postgres/cluster.js'
import { type Row, QUICK, fail, now, orderPool, perSec, report, rmScratch, scratchDir, writeSegments } from '../lib/common.js'

const GROUP = '7. central store (PostgreSQL)'
const BATCH = 2000

async function bareLoop(store: PostgresStore, items: number): Promise<number> {
  const db = (store as unknown as { db: { query(t: string, p?: unknown[]): Promise<unknown> } }).db
  const pool = orderPool('120B').map((p) => JSON.stringify(p))
  const t0 = now()
  for (let done = 0; done < items; done += BATCH) {
    const n = Math.min(BATCH, items - done)
    const keys: string[] = []
    const offs: number[] = []
    const payloads: string[] = []
    for (let i = 0; i < n; i++) {
      keys.push(crypto.randomUUID())
      offs.push(done + i)
      payloads.push(pool[(done + i) % pool.length]!)
    }
    await db.query(
      `INSERT INTO bare.entries (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, ts, payload, shipped_at, updated_at)
       SELECT k, 'h', 'l', 's', o, 'retry', 1, 'upstream timeout', 'upstream timeout', 0, p::jsonb, 0, 0
       FROM unnest($1::uuid[], $2::bigint[], $3::text[]) AS u(k, o, p)`,
      [keys, offs, payloads],
    )
  }
  return now() - t0
}

async function run(): Promise<{ rows: Row[]; notes: string[] }> {
  if (!findPgBin()) {
    return { rows: [], notes: ['central store (PostgreSQL): skipped, no server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)'] }
  }
  const items = QUICK ? 50_000 : 300_000
  const cluster = await startCluster()
  const dir = scratchDir('pg')
  try {
    const bare = await PostgresStore.connect(cluster.url, { schema: 'bare' })
    const bareMs = await bareLoop(bare, items)
    await bare.close()
    const bareRate = perSec(items, bareMs)

    const store = await PostgresStore.connect(cluster.url, { schema: 'dletter', host: 'bench' })
    const pool = orderPool('120B')
    writeSegments(dir, 'bench', pool, items)
    const t0 = now()
    const c0 = process.cpuUsage()
    const shipped = await store.ship(path.join(dir, 'bench.log'))
    const shipMs = now() - t0
    const shipCpu = process.cpuUsage(c0)
    if (shipped.shipped !== items) throw new Error(`shipped ${shipped.shipped} of ${items}`)

    const t1 = now()
    const workers = await Promise.all(Array.from({ length: 4 }, () => store.replay(() => {}, { batchSize: 500 })))
    const replayMs = now() - t1
    const delivered = workers.reduce((a, w) => a + w.delivered, 0)
    if (delivered !== items) throw new Error(`delivered ${delivered} of ${items}`)
    await store.close()

    const shipRate = perSec(items, shipMs)
    const replayRate = perSec(items, replayMs)
    const rows: Row[] = [
      { group: GROUP, name: 'bare INSERT … SELECT unnest (ceiling)', payload: '120B', value: bareRate, unit: 'rows/s', note: `${items.toLocaleString('en-US')} rows, ${BATCH} per statement` },
      {
        group: GROUP,
        name: 'ship (local segments → table)',
        payload: '120B',
        value: shipRate,
        unit: 'entries/s',
        target: 50_000,
        note: `${(shipRate / bareRate).toFixed(2)}× the bare loop; ${(shipMs / 1000).toFixed(2)} s, CPU ${((shipCpu.user + shipCpu.system) / items).toFixed(2)} µs/entry in this process`,
      },
      {
        group: GROUP,
        name: 'central replay, 4 workers, no-op handler',
        payload: '120B',
        value: replayRate,
        unit: 'entries/s',
        target: 20_000,
        note: `${(replayRate / bareRate).toFixed(2)}× the bare loop; per worker ${workers.map((w) => w.delivered).join(' + ')}`,
      },
    ]
    return { rows, notes: ['central store: a throwaway PostgreSQL cluster on loopback with fsync=off, server and bench sharing the same cores.'] }
  } finally {
    cluster.destroy()
    rmScratch(dir)
  }
}

try {
  report(await run())
} catch (err) {
  fail(err)
}
