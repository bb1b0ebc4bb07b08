/**
 * `npm run demo:same-calls`: the same stats, inspect, requeue and purge calls, with the same
 * options objects, on a local log and on the central store, and what they return.
 *
 *   1. one host logs failed orders twice over: into log A (kept local) and log B
 *   2. log B is shipped into PostgreSQL
 *   3. each call runs on log A (`stats(path, options)`) and on the store (`store.stats(options)`):
 *      the counts and the result keys are the same; only `backend` differs, and the central
 *      results add `host`/`logName` to entries and `hosts` to stats
 *
 * With DLETTER_DB set it uses that server (in its own schema, dropped at the end); without,
 * an in-process PostgreSQL (PGlite), so it runs on a fresh machine with no server.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Entry, inspect, Logger, purge, requeue, stats } from '../src/index.js'
import { type PGliteLike, PostgresStore } from '../src/postgres/index.js'

const SCHEMA = `same_calls_${process.pid}`

/** Keys the central store adds, and the one part whose keys differ by backend. */
const CENTRAL_ONLY = new Set(['host', 'hosts', 'logName'])

/** Every key path of a result (arrays by their first element), leaving out `backend` and the central-only keys. */
function keyPaths(v: unknown, at = ''): string[] {
  if (Array.isArray(v)) return v.length > 0 ? keyPaths(v[0], `${at}[]`) : []
  if (v === null || typeof v !== 'object' || v instanceof RegExp) return []
  // Reason-keyed maps (attempts, byFinal) hold data, not shape.
  if (at.endsWith('.attempts') || at.endsWith('.byFinal')) return [at]
  return Object.entries(v).flatMap(([k, x]) => (k === 'backend' || CENTRAL_ONLY.has(k) ? [] : [`${at}.${k}`, ...keyPaths(x, `${at}.${k}`)]))
}

async function openDatabase(): Promise<{ target: string | PGliteLike; done: () => Promise<void> }> {
  if (process.env.DLETTER_DB) return { target: process.env.DLETTER_DB, done: async () => {} }
  const { PGlite } = await import('@electric-sql/pglite')
  const db = new PGlite()
  return { target: db as unknown as PGliteLike, done: () => db.close() }
}

async function logOrders(file: string): Promise<void> {
  const dlq = await Logger.open(file)
  for (let i = 0; i < 12; i++) {
    const order = { id: `ord-${i}`, amount: 10 + i }
    if (i % 4 === 0) await dlq.logPermanent(order, `card declined: amount ${order.amount}`, 3, { id: order.id })
    else await dlq.log(order, new Error(`upstream timeout after ${3000 + i} ms`), 1, { id: order.id })
  }
  await dlq.close()
}

async function main(): Promise<void> {
  const dirA = fs.mkdtempSync(path.join(os.tmpdir(), 'dletter-same-a-'))
  const dirB = fs.mkdtempSync(path.join(os.tmpdir(), 'dletter-same-b-'))
  const [logA, logB] = [path.join(dirA, 'orders.log'), path.join(dirB, 'orders.log')]
  const { target, done } = await openDatabase()
  const store = await PostgresStore.connect(target, { host: 'pod-a', schema: SCHEMA })
  try {
    await logOrders(logA)
    await logOrders(logB)
    await store.ship(logB, { logName: 'orders.log' })

    const declined = { kind: 'permanent', reason: /declined/i } as const
    const calls: Array<[string, (o: never) => Promise<unknown>, (o: never) => Promise<unknown>, object]> = [
      ['stats', (o) => stats(logA, o), (o) => store.stats(o), { top: 5 }],
      ['inspect', (o) => all(inspect(logA, o)), (o) => all(store.inspect(o)), { ...declined, limit: 2 }],
      ['requeue', (o) => requeue(logA, o), (o) => store.requeue(o), { ...declined, dryRun: true }],
      ['purge', (o) => purge(logA, o), (o) => store.purge(o), { ...declined, dryRun: true }],
    ]
    for (const [name, local, central, options] of calls) {
      const [l, c] = [await local(options as never), await central(options as never)]
      const [lk, ck] = [keyPaths(l), keyPaths(c)]
      const same = lk.length === ck.length && lk.every((k, i) => k === ck[i])
      console.log(`${name}(${JSON.stringify(options, (_, v) => (v instanceof RegExp ? String(v) : v))})`)
      console.log(`  local:   ${summary(name, l)}`)
      console.log(`  central: ${summary(name, c)}`)
      console.log(`  same keys: ${same ? 'yes' : `no (local only: ${lk.filter((k) => !ck.includes(k)).join(' ')}; central only: ${ck.filter((k) => !lk.includes(k)).join(' ')})`}`)
    }
  } finally {
    await store.close()
    if (process.env.DLETTER_DB) {
      const { default: pg } = await import('pg')
      const c = new pg.Client(process.env.DLETTER_DB)
      await c.connect()
      await c.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).finally(() => c.end())
    }
    await done()
    for (const d of [dirA, dirB]) fs.rmSync(d, { recursive: true, force: true })
  }
}

async function all(it: AsyncIterable<Entry>): Promise<Entry[]> {
  const out: Entry[] = []
  for await (const e of it) out.push(e)
  return out
}

function summary(name: string, r: unknown): string {
  if (name === 'stats') {
    const s = r as Awaited<ReturnType<typeof stats>>
    return `retry ${s.retry.count} (due ${s.retry.due}), permanent ${s.permanent.count}, corrupt ${s.corrupt.count}; top reason ${s.retry.reasons[0]?.fingerprint}`
  }
  if (name === 'inspect') return (r as Entry[]).map((e) => `${e.id} "${e.reason}"`).join(', ')
  const c = r as { count: number; reasons: Array<{ fingerprint: string; count: number }> }
  return `${c.count} would change: ${c.reasons.map((g) => `${g.count} × ${g.fingerprint}`).join(', ')}`
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
