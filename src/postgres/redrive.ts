/**
 * `requeue` and `purge` over the central table: one filter, a dry run that only counts (and
 * names the top reasons), and a real run that changes rows in small batches — keyset by
 * sequence number, `FOR UPDATE SKIP LOCKED` so it never waits on a worker — optionally
 * paced to `rate` entries per second. Purged rows are kept (state 'purged') until `prune()`.
 *
 * They mean what they mean on a local log: purge takes permanent and corrupt entries only
 * (the retry log is never purged; its entries leave through replay), requeue permanent ones
 * by default. Requeue may also take `retry` entries (make deferred ones due now), which a
 * local log has no use for: a local replay holds the replay lock while it runs. Centrally, a
 * replay worker holds its entries by a lease instead, and neither operation ever touches a
 * leased entry: that would hand an entry a worker is running to a second worker. Such
 * entries are skipped and counted in `leased`; run again once the worker has settled them.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { DeadLetterError, invalidOption } from '../base/errors.js'
import { retryTransient, run, type Db } from './db.js'
import { compileFilter, type EntryFilter, type EntryState } from './filters.js'
import type { ResolvedRedriveOptions } from './options.js'
import { NOW_MS, type Tables, UNLEASED } from './schema.js'

export interface ReasonCount {
  fingerprint: string
  count: number
  example: string | null
}

export interface RedriveResult {
  dryRun: boolean
  /** Entries matched (dry run) or changed. */
  count: number
  /**
   * Matching entries left alone because a replay worker holds them (under a live lease, or
   * being claimed or settled at that instant); a dry run counts those leased now.
   */
  leased: number
  /** Largest groups among them by reason fingerprint (at most 10). */
  topReasons: ReasonCount[]
  /** True when stopped by the signal; what was changed stays changed. */
  stopped: boolean
}

const BATCH = 1000
const TOP = 10

type Kind = 'requeue' | 'purge'

const KINDS: Record<Kind, { states: EntryState[]; why: string }> = {
  requeue: { states: ['permanent', 'retry'], why: 'corrupt entries have no payload to deliver; delivered and purged ones are done' },
  purge: { states: ['permanent', 'corrupt'], why: 'the retry log is never purged, its entries leave through replay; delivered and purged rows leave through prune()' },
}

/** The filter with the states the operation may touch: requeue defaults to permanent, purge must be told. */
function kindFilter(kind: Kind, filter: EntryFilter | undefined): EntryFilter {
  const f: EntryFilter = { ...filter }
  const { states, why } = KINDS[kind]
  if (kind === 'requeue') f.state ??= 'permanent'
  if (f.state === undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: ${kind}() needs filter \`state\`: ${states.map((s) => `'${s}'`).join(' or ')}, or both (${why})`)
  }
  for (const s of Array.isArray(f.state) ? f.state : [f.state]) {
    if (!states.includes(s)) throw invalidOption('state', `${states.map((x) => `'${x}'`).join(' or ')} for ${kind}() (${why})`, s)
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
  const f = compileFilter(kindFilter(kind, filter), 3 + own.length)
  if (o.dryRun) return dryRun(db, t, filter, kind)
  const groups = new Map<string, ReasonCount>()
  let count = 0
  let leased = 0
  let after = 0
  const t0 = Date.now()
  const limit = f.limit ?? Infinity
  while (count < limit && !o.signal?.aborted) {
    const n = Math.min(BATCH, limit - count, o.rate ?? BATCH)
    // `m`: the next n matching rows nobody holds, locked (rows a worker is claiming or
    // settling right now are locked: skipped). `span`: the stretch of the keyset this batch
    // covers — to `m`'s last row, or to the end when `m` came up short. Every matching row
    // of the span (as of the statement's snapshot) that was not changed was held by a worker.
    const r = await run<{ seq: string | null; fingerprint: string | null; reason: string | null; taken: string | null; seen: string | null; hi: string | null }>(
      db,
      kind,
      `WITH m AS (
         SELECT seq FROM ${t.entries} WHERE seq > $1 AND ${f.where} AND ${UNLEASED} ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED
       ), u AS (
         UPDATE ${t.entries} SET ${setClause(kind, '$3')} WHERE seq IN (SELECT seq FROM m) AND ${UNLEASED} RETURNING seq, fingerprint, reason
       ), span AS (
         SELECT count(*) AS taken, CASE WHEN count(*) < $2 THEN NULL ELSE max(seq) END AS hi FROM m
       )
       SELECT seq, fingerprint, reason, NULL::bigint AS taken, NULL::bigint AS seen, NULL::bigint AS hi FROM u
       UNION ALL
       SELECT NULL, NULL, NULL, span.taken,
              (SELECT count(*) FROM ${t.entries} WHERE seq > $1 AND (span.hi IS NULL OR seq <= span.hi) AND ${f.where}), span.hi
       FROM span`,
      [after, n, ...own, ...f.params],
    )
    let changed = 0
    let span: (typeof r.rows)[number] | undefined
    for (const row of r.rows) {
      if (row.seq === null) {
        span = row
        continue
      }
      changed++
      const fp = row.fingerprint!
      const g = groups.get(fp)
      if (g) g.count++
      else if (groups.size < 1000) groups.set(fp, { fingerprint: fp, count: 1, example: row.reason })
    }
    count += changed
    leased += Number(span!.seen) - changed
    if (span!.hi === null) break
    after = Number(span!.hi)
    if (o.rate !== undefined) {
      const wait = t0 + (count / o.rate) * 1000 - Date.now()
      if (wait > 0) await sleep(wait, undefined, o.signal ? { signal: o.signal } : {}).catch(() => {})
    }
  }
  const topReasons = [...groups.values()].sort((a, b) => b.count - a.count || a.fingerprint.localeCompare(b.fingerprint)).slice(0, TOP)
  return { dryRun: false, count, leased, topReasons, stopped: o.signal?.aborted === true }
}

/**
 * What a real run would change now: the matching rows nobody holds (the first `limit` of
 * them), and how many matching rows up to the last of those a worker holds.
 */
async function dryRun(db: Db, t: Tables, filter: EntryFilter | undefined, kind: Kind): Promise<RedriveResult> {
  const f = compileFilter(kindFilter(kind, filter), 1)
  const bound =
    f.limit === undefined
      ? ''
      : `WHERE seq <= coalesce((SELECT seq FROM m WHERE free ORDER BY seq OFFSET $${f.params.length + 1} LIMIT 1), 9223372036854775807)`
  const params = f.limit === undefined ? f.params : [...f.params, f.limit - 1]
  const r = await run<{ fingerprint: string | null; c: string; l: string; example: string | null }>(
    db,
    `${kind} (dry run)`,
    `WITH m AS (SELECT seq, fingerprint, reason, ${UNLEASED} AS free FROM ${t.entries} WHERE ${f.where})
     SELECT fingerprint, count(*) FILTER (WHERE free) AS c, count(*) FILTER (WHERE NOT free) AS l, min(reason) FILTER (WHERE free) AS example
     FROM m ${bound} GROUP BY ROLLUP (fingerprint) ORDER BY c DESC, fingerprint`,
    params,
  )
  let count = 0
  let leased = 0
  const topReasons: ReasonCount[] = []
  for (const row of r.rows) {
    if (row.fingerprint === null) {
      count = Number(row.c)
      leased = Number(row.l)
    } else if (topReasons.length < TOP && Number(row.c) > 0) topReasons.push({ fingerprint: row.fingerprint, count: Number(row.c), example: row.example })
  }
  return { dryRun: true, count, leased, topReasons, stopped: false }
}

/**
 * Delete delivered and purged rows last changed longer ago than `olderThanMs`. Unlike
 * requeue and purge it waits on row locks (a second prune's, an operator's own statement),
 * so it can be a deadlock's victim: a batch is one statement, run again (retryTransient).
 */
export async function prune(db: Db, t: Tables, olderThanMs: number, states: EntryState[] = ['delivered', 'purged']): Promise<number> {
  let total = 0
  for (;;) {
    const r = await retryTransient(() =>
      run(
        db,
        'prune',
        `DELETE FROM ${t.entries} WHERE seq IN (
           SELECT seq FROM ${t.entries} WHERE state = ANY($1::text[]) AND updated_at < ${NOW_MS} - $2 LIMIT 5000)`,
        [states, olderThanMs],
      ),
    )
    total += r.rowCount
    if (r.rowCount < 5000) return total
  }
}
