/**
 * `requeue` and `purge` over the central table: one filter, a dry run that only counts (and
 * names the top reasons), and a real run that changes rows in small batches — keyset by
 * sequence number, `FOR UPDATE SKIP LOCKED` so it never waits on a worker — optionally
 * paced to `rate` entries per second. Purged rows are kept (state 'purged') until `prune()`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { DeadLetterError } from '../errors.js'
import { run, type Db } from './db.js'
import { compileFilter, type EntryFilter, type EntryState } from './filters.js'
import type { ResolvedRedriveOptions } from './options.js'
import { NOW_MS, type Tables } from './schema.js'

export interface ReasonCount {
  fingerprint: string
  count: number
  example: string | null
}

export interface RedriveResult {
  dryRun: boolean
  /** Entries matched (dry run) or changed. */
  count: number
  /** Largest groups among them by reason fingerprint (at most 10). */
  topReasons: ReasonCount[]
  /** True when stopped by the signal; what was changed stays changed. */
  stopped: boolean
}

const BATCH = 1000
const TOP = 10

type Kind = 'requeue' | 'purge'

function defaultFilter(kind: Kind, filter: EntryFilter | undefined): EntryFilter {
  const f: EntryFilter = { ...filter }
  if (kind === 'requeue') {
    f.state ??= 'permanent'
    const states = Array.isArray(f.state) ? f.state : [f.state]
    const bad = states.filter((s) => s === 'corrupt' || s === 'delivered')
    if (bad.length > 0) {
      throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: requeue cannot take ${bad.join(', ')} entries (corrupt ones have no payload to deliver; delivered ones are done)`)
    }
  }
  return f
}

function setClause(kind: Kind, resetParam: string): string {
  if (kind === 'purge') return `state = 'purged', lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS}`
  return `state = 'retry', due_ts = 0, final = NULL, lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS},
          attempt = CASE WHEN ${resetParam}::boolean THEN 1 ELSE attempt END`
}

export async function redrive(db: Db, t: Tables, kind: Kind, filter: EntryFilter | undefined, o: ResolvedRedriveOptions): Promise<RedriveResult> {
  const own = kind === 'requeue' ? [o.resetAttempts] : []
  const f = compileFilter(defaultFilter(kind, filter), 3 + own.length)
  if (o.dryRun) return dryRun(db, t, filter, kind)
  const groups = new Map<string, ReasonCount>()
  let count = 0
  let after = 0
  const t0 = Date.now()
  const limit = f.limit ?? Infinity
  while (count < limit && !o.signal?.aborted) {
    const n = Math.min(BATCH, limit - count, o.rate ?? BATCH)
    const r = await run<{ seq: string; fingerprint: string; reason: string | null }>(
      db,
      kind,
      `UPDATE ${t.entries} SET ${setClause(kind, '$3')}
       WHERE seq IN (SELECT seq FROM ${t.entries} WHERE seq > $1 AND ${f.where} ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING seq, fingerprint, reason`,
      [after, n, ...own, ...f.params],
    )
    if (r.rows.length === 0) break
    count += r.rows.length
    for (const row of r.rows) {
      after = Math.max(after, Number(row.seq))
      const g = groups.get(row.fingerprint)
      if (g) g.count++
      else if (groups.size < 1000) groups.set(row.fingerprint, { fingerprint: row.fingerprint, count: 1, example: row.reason })
    }
    if (r.rows.length < n) break
    if (o.rate !== undefined) {
      const wait = t0 + (count / o.rate) * 1000 - Date.now()
      if (wait > 0) await sleep(wait, undefined, o.signal ? { signal: o.signal } : {}).catch(() => {})
    }
  }
  const topReasons = [...groups.values()].sort((a, b) => b.count - a.count || a.fingerprint.localeCompare(b.fingerprint)).slice(0, TOP)
  return { dryRun: false, count, topReasons, stopped: o.signal?.aborted === true }
}

async function dryRun(db: Db, t: Tables, filter: EntryFilter | undefined, kind: Kind): Promise<RedriveResult> {
  const f = compileFilter(defaultFilter(kind, filter), 1)
  const lim = f.limit === undefined ? '' : `LIMIT $${f.params.length + 1}`
  const params = f.limit === undefined ? f.params : [...f.params, f.limit]
  const r = await run<{ fingerprint: string | null; c: string; example: string | null }>(
    db,
    `${kind} (dry run)`,
    `WITH m AS (SELECT fingerprint, reason FROM ${t.entries} WHERE ${f.where} ORDER BY seq ${lim})
     SELECT fingerprint, count(*) AS c, min(reason) AS example FROM m GROUP BY ROLLUP (fingerprint) ORDER BY c DESC`,
    params,
  )
  let count = 0
  const topReasons: ReasonCount[] = []
  for (const row of r.rows) {
    if (row.fingerprint === null) count = Number(row.c)
    else if (topReasons.length < TOP) topReasons.push({ fingerprint: row.fingerprint, count: Number(row.c), example: row.example })
  }
  return { dryRun: true, count, topReasons, stopped: false }
}

/** Delete delivered and purged rows last changed longer ago than `olderThanMs`. */
export async function prune(db: Db, t: Tables, olderThanMs: number, states: EntryState[] = ['delivered', 'purged']): Promise<number> {
  let total = 0
  for (;;) {
    const r = await run(
      db,
      'prune',
      `DELETE FROM ${t.entries} WHERE seq IN (
         SELECT seq FROM ${t.entries} WHERE state = ANY($1::text[]) AND updated_at < ${NOW_MS} - $2 LIMIT 5000)`,
      [states, olderThanMs],
    )
    total += r.rowCount
    if (r.rowCount < 5000) return total
  }
}
