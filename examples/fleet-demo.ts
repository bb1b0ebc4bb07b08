/**
 * `npm run demo:fleet`: many hosts, one place to triage and redrive.
 *
 *   1. three simulated hosts (pods) each log failed orders into their own local files
 *   2. each ships its files into PostgreSQL (local files are deleted only after COMMIT)
 *   3. central stats: the whole fleet's failures grouped by reason fingerprint
 *   4. a central replay (it could run on any number of hosts at once)
 *   5. a filtered redrive: dry run first, then requeue the fixed failure mode and replay it
 *
 * With DLETTER_DB set it uses that server (in its own schema, dropped at the end); without,
 * an in-process PostgreSQL (PGlite), so it runs on a fresh machine with no server.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Logger, PermanentError, type Stats } from '../src/index.js'
import { PostgresStore, type PGliteLike } from '../src/postgres/index.js'

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s)
const HOSTS = ['pod-a', 'pod-b', 'pod-c']
const SCHEMA = `fleet_demo_${process.pid}`

function section(title: string): void {
  console.log(`\n${bold(`── ${title} `.padEnd(78, '─'))}`)
}

/** Deterministic pseudo-random numbers: every run tells the same story. */
function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

async function openDatabase(): Promise<{ target: string | PGliteLike; where: string; done: () => Promise<void> }> {
  if (process.env.DLETTER_DB) return { target: process.env.DLETTER_DB, where: 'the server in $DLETTER_DB', done: async () => {} }
  const { PGlite } = await import('@electric-sql/pglite')
  const db = new PGlite()
  return { target: db as unknown as PGliteLike, where: 'an in-process PostgreSQL (PGlite; set DLETTER_DB to use a server)', done: () => db.close() }
}

async function logOnHost(dir: string, host: string, random: () => number): Promise<number> {
  const dlq = await Logger.open(path.join(dir, 'orders.log'))
  const n = 40 + Math.floor(random() * 30)
  for (let i = 0; i < n; i++) {
    const order = { id: `${host}-${1000 + i}`, amount: Math.round(random() * 10_000) / 100 }
    const roll = random()
    if (roll < 0.45) await dlq.log(order, new Error(`upstream timeout after ${3000 + Math.floor(random() * 900)} ms calling 10.0.${Math.floor(random() * 9)}.${Math.floor(random() * 250)}`), 1, { id: order.id })
    else if (roll < 0.75) await dlq.log(order, `legacy order format v${1 + Math.floor(random() * 3)} rejected`, 1, { id: order.id })
    else if (roll < 0.9) await dlq.log(order, Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' }), 1, { id: order.id })
    else await dlq.logPermanent(order, `card declined: amount ${order.amount} over limit`, 3, { id: order.id })
  }
  await dlq.close()
  return n
}

async function main(): Promise<void> {
  const random = seeded(42)
  const { target, where, done } = await openDatabase()
  const dirs: string[] = []
  const stores: PostgresStore[] = []
  try {
    section(`1. three hosts log failures locally — database: ${where}`)
    for (const host of HOSTS) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dletter-fleet-${host}-`))
      dirs.push(dir)
      const n = await logOnHost(dir, host, random)
      console.log(`  ${host}: ${n} failed orders in ${dir}/orders.log`)
    }

    section('2. each host ships its files (deleted locally only after COMMIT)')
    for (const [i, host] of HOSTS.entries()) {
      const store = await PostgresStore.connect(target, { host, schema: SCHEMA })
      stores.push(store)
      const r = await store.ship(path.join(dirs[i]!, 'orders.log'), { logName: 'orders.log' })
      const left = fs.readdirSync(dirs[i]!).filter((f) => f.endsWith('.log') && fs.statSync(path.join(dirs[i]!, f)).size > 0)
      console.log(`  ${host}: shipped ${r.shipped} (retry ${r.retry}, permanent ${r.permanent}); local files left with data: ${left.length}`)
    }
    const central = stores[0]!

    section('3. central stats: the whole fleet grouped by reason fingerprint')
    const s = await central.stats()
    const counts = (x: Stats) => `retry ${x.retry.count}, permanent ${x.permanent.count}, corrupt ${x.corrupt.count}`
    console.log(`  ${counts(s)}`)
    console.log(`  by host: ${(s.hosts ?? []).map((h) => `${h.host} ${h.retry + h.permanent + h.corrupt}`).join(', ')}`)
    for (const g of [...s.retry.reasons, ...s.permanent.reasons]) {
      console.log(`  ${String(g.count).padStart(4)}  ${g.fingerprint.padEnd(52)} ${g.hosts} host(s)  e.g. "${g.example}"`)
    }

    section('4. central replay (safe on many hosts at once): legacy orders still fail for good')
    const handler = (fixed: boolean) => (order: { id: string; amount: number }, entry: { reason: string | null }) => {
      if (!fixed && entry.reason?.startsWith('legacy order')) throw new PermanentError(`legacy order format still unsupported (order amount ${order.amount})`)
    }
    const r1 = await central.replay(handler(false), { concurrency: 8 })
    console.log(`  delivered ${r1.delivered}, permanent ${r1.permanent}, requeued ${r1.requeued}`)

    section('5. redrive: the legacy format is supported now — dry run, then requeue and replay')
    const filter = { kind: 'permanent' as const, reason: /^legacy order/ }
    const dry = await central.requeue({ ...filter, dryRun: true, resetAttempts: true })
    console.log(`  dry run: ${dry.count} entries would be requeued; top reasons:`)
    for (const t of dry.reasons) console.log(`    ${String(t.count).padStart(4)}  ${t.fingerprint}`)
    const real = await central.requeue({ ...filter, resetAttempts: true })
    const r2 = await central.replay(handler(true), { concurrency: 8 })
    console.log(`  requeued ${real.count}; replay delivered ${r2.delivered}`)
    const end = await central.stats()
    console.log(`  left: ${counts(end)}`)
    const sample = []
    for await (const e of central.inspect({ kind: 'permanent', limit: 3 })) sample.push(`${e.host} ${e.id}: ${e.reason}`)
    console.log(`  still permanent (first 3): ${sample.join(' | ')}`)
  } finally {
    if (process.env.DLETTER_DB && stores[0]) {
      // Leave a shared server as it was.
      const c = stores[0] as unknown as { db: { query(t: string): Promise<unknown> } }
      await c.db.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => {})
    }
    for (const s of stores) await s.close()
    await done()
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  }
}

await main()
