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
import { DeadLetterError } from '../base/errors.js'
import { bool, checkOptions, fn, int, signal } from '../base/checks.js'
import { redriveChecks, redriveDefaults } from '../base/options.js'
import { changeKind } from '../format/filter.js'
import { ListenerGuard } from '../base/listener-guard.js'
import type { ChangeResult, Kind, Progress, PurgeResult, RequeueResult, Transform } from '../format/model.js'
import { ReasonCounter } from '../format/reasons.js'
import { retryTransient, run, type Db } from './db.js'
import { CENTRAL_FILTER_KEYS, type CompiledFilter, type EntryState, centralFilter, compileFilter } from './filters.js'
import { NOW_MS, type Tables, UNLEASED } from './schema.js'
import { auditChecks, auditRun, editChecks, loadTransform, requireWhy } from '../format/edit.js'
import { auditCte, auditParams, repairCentral } from './audit.js'

const BATCH = 1000
const TOP = 10

type Op = 'requeue' | 'purge'

const common = { dryRun: bool, rate: int(1), signal, onProgress: fn }
const CHECKS = {
  requeue: { ...common, ...redriveChecks, ...editChecks, kind: changeKind('requeue'), resetAttempts: bool },
  purge: { ...common, ...auditChecks, kind: changeKind('purge') },
}

type RedriveRun = ReturnType<typeof resolveRedrive>

/** Check the options (filter fields and the operation's own) once; the same keys a local log takes, central ones added. */
export function resolveRedrive(op: Op, options: unknown) {
  const o = checkOptions(`store.${op}`, options, CHECKS[op] as typeof CHECKS.requeue, CENTRAL_FILTER_KEYS) as Record<string, unknown>
  const kind = (o.kind as Kind | undefined) ?? (op === 'requeue' ? 'permanent' : undefined)
  if (kind === undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', "dlq: store.purge() needs option `kind`: 'permanent' or 'corrupt' (the retry log is never purged; delivered and purged rows leave through prune())")
  }
  const { filter, scope } = centralFilter(options as object, kind)
  requireWhy(`store.${op}`, o)
  return {
    op,
    kind,
    /** The filter compiled with its first parameter at $first. */
    filter: (first: number): CompiledFilter => compileFilter(filter, scope, [kind], first),
    dryRun: (o.dryRun as boolean | undefined) ?? false,
    rate: o.rate as number | undefined,
    resetAttempts: (o.resetAttempts as boolean | undefined) ?? false,
    /** requeue's loop guard: rows with this many redrives stay; null with `force` (and for purge). */
    maxRedrives: op === 'purge' || ((o.force as boolean | undefined) ?? redriveDefaults.force) ? null : ((o.maxRedrives as number | undefined) ?? redriveDefaults.maxRedrives),
    signal: o.signal as AbortSignal | undefined,
    onProgress: o.onProgress as ((p: Progress) => void) | undefined,
    /** Who and why, for the audit trail; requeue's transform (repair before redrive). */
    author: { why: o.why as string | undefined, actor: o.actor as string | undefined },
    transform: o.transform as Transform | string | undefined,
  }
}

function setClause(op: Op, resetParam: string): string {
  if (op === 'purge') return `state = 'purged', lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS}`
  return `state = 'retry', due_ts = 0, final = NULL, lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS},
          attempt = CASE WHEN ${resetParam}::boolean THEN 1 ELSE attempt END,
          first_ts = CASE WHEN ${resetParam}::boolean THEN coalesce(first_ts, ts) ELSE first_ts END, redrives = redrives + 1`
}

export async function redrive(db: Db, t: Tables, op: 'requeue', options: unknown): Promise<RequeueResult>
export async function redrive(db: Db, t: Tables, op: 'purge', options: unknown): Promise<PurgeResult>
export async function redrive(db: Db, t: Tables, op: Op, options: unknown): Promise<ChangeResult> {
  const o = resolveRedrive(op, options)
  const own = op === 'requeue' ? [o.resetAttempts] : []
  const f = guarded(o, o.filter(3 + own.length))
  const result: ChangeResult = { kind: o.kind, dryRun: o.dryRun, filter: f.text, count: 0, reasons: [], stopped: null, warnings: [], backend: { type: 'postgres', leased: 0 } }
  const out = op === 'requeue' ? { ...result, resetAttempts: o.resetAttempts, maxRedrives: o.maxRedrives, heldBack: await heldBack(db, t, o) } : result
  const tr = o.transform === undefined ? undefined : await loadTransform(o.transform, 'store.requeue')
  const audit = auditRun(op, o.author, f.text, tr)
  if (tr) {
    const rf = guarded(o, o.filter(2))
    const repaired = await repairCentral(db, t, tr, { filter: rf, limit: rf.limit ?? Infinity, dryRun: o.dryRun, audit, signal: o.signal }, { ...(out as RequeueResult), resetAttempts: true })
    if (!o.dryRun) repaired.audit = { where: t.audit, records: repaired.count, run: audit.run }
    return repaired
  }
  if (o.dryRun) return dryRun(db, t, o, out)
  const ap = 3 + own.length + f.params.length
  // As on a local log, the corrupt quarantine's purges are not audited (yet): docs/repair.md.
  const audited = o.kind !== 'corrupt'
  // A progress callback that throws must not stop the operation halfway: it becomes a warning.
  const guard = new ListenerGuard((message) => out.warnings.push(message))
  const groups = new ReasonCounter(1000)
  let leased = 0
  let after = 0
  const t0 = Date.now()
  const limit = f.limit ?? Infinity
  while (out.count < limit && !o.signal?.aborted) {
    const n = Math.min(BATCH, limit - out.count, o.rate ?? BATCH)
    // `m`: the next n matching rows nobody holds, locked (rows a worker is claiming or
    // settling right now are locked: skipped). `span`: the stretch of the keyset this batch
    // covers — to `m`'s last row, or to the end when `m` came up short. Every matching row
    // of the span (as of the statement's snapshot) that was not changed was held by a worker.
    const r = await run<{ seq: string | null; fingerprint: string | null; reason: string | null; ts: string | null; taken: string | null; seen: string | null; hi: string | null }>(
      db,
      op,
      `WITH m AS (
         SELECT seq FROM ${t.entries} WHERE seq > $1 AND ${f.where} AND ${UNLEASED} ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED
       ), u AS (
         UPDATE ${t.entries} SET ${setClause(op, '$3')} WHERE seq IN (SELECT seq FROM m) AND ${UNLEASED}
         RETURNING seq, fingerprint, reason, ts, entry_key, id, source, byte_offset, host, payload, raw
       ),${audited ? ` a AS (${auditCte(t, 'u', (i) => `$${ap + i}`)}),` : ''} span AS (
         SELECT count(*) AS taken, CASE WHEN count(*) < $2 THEN NULL ELSE max(seq) END AS hi FROM m
       )
       SELECT seq, fingerprint, reason, ts, NULL::bigint AS taken, NULL::bigint AS seen, NULL::bigint AS hi FROM u
       UNION ALL
       SELECT NULL, NULL, NULL, NULL, span.taken,
              (SELECT count(*) FROM ${t.entries} WHERE seq > $1 AND (span.hi IS NULL OR seq <= span.hi) AND ${f.where}), span.hi
       FROM span`,
      [after, n, ...own, ...f.params, ...(audited ? auditParams(audit) : [])],
    )
    let changed = 0
    let span: (typeof r.rows)[number] | undefined
    for (const row of r.rows) {
      if (row.seq === null) {
        span = row
        continue
      }
      changed++
      groups.addTo(row.fingerprint!, row.reason, Number(row.ts))
    }
    out.count += changed
    leased += Number(span!.seen) - changed
    guard.call('onProgress', o.onProgress, { done: out.count, total: null, items: out.count })
    if (span!.hi === null) break
    after = Number(span!.hi)
    if (o.rate !== undefined) {
      const wait = t0 + (out.count / o.rate) * 1000 - Date.now()
      if (wait > 0) await sleep(wait, undefined, o.signal ? { signal: o.signal } : {}).catch(() => {})
    }
  }
  guard.flush()
  out.reasons = groups.top(TOP)
  out.stopped = o.signal?.aborted ? 'abort' : out.count >= limit ? 'limit' : null
  out.backend = { type: 'postgres', leased }
  if (audited) (out as RequeueResult).audit = { where: t.audit, records: out.count, run: audit.run }
  return out
}

/** The filter with requeue's loop guard: rows at maxRedrives are not taken (nor counted as leased). */
function guarded(o: RedriveRun, f: CompiledFilter): CompiledFilter {
  if (o.maxRedrives === null) return f
  return { ...f, where: `${f.where} AND redrives < ${o.maxRedrives}` }
}

/**
 * Matching rows the loop guard holds back, counted before the run (a row that reaches the
 * limit by this run's own redrive was moved, not held back).
 */
async function heldBack(db: Db, t: Tables, o: RedriveRun): Promise<number> {
  if (o.maxRedrives === null) return 0
  const f = o.filter(1)
  const r = await run<{ c: string }>(db, `${o.op} (loop guard)`, `SELECT count(*) AS c FROM ${t.entries} WHERE ${f.where} AND redrives >= ${o.maxRedrives}`, f.params)
  return Number(r.rows[0]!.c)
}

/**
 * What a real run would change now: the matching rows nobody holds (the first `limit` of
 * them), and how many matching rows up to the last of those a worker holds.
 */
async function dryRun<R extends ChangeResult>(db: Db, t: Tables, o: RedriveRun, out: R): Promise<R> {
  const f = guarded(o, o.filter(1))
  const bound =
    f.limit === undefined
      ? ''
      : `WHERE seq <= coalesce((SELECT seq FROM m WHERE free ORDER BY seq OFFSET $${f.params.length + 1} LIMIT 1), 9223372036854775807)`
  const params = f.limit === undefined ? f.params : [...f.params, f.limit - 1]
  const r = await run<{ fingerprint: string | null; c: string; l: string; example: string | null; oldest: string | null; newest: string | null }>(
    db,
    `${o.op} (dry run)`,
    `WITH m AS (SELECT seq, fingerprint, reason, ts, ${UNLEASED} AS free FROM ${t.entries} WHERE ${f.where})
     SELECT fingerprint, count(*) FILTER (WHERE free) AS c, count(*) FILTER (WHERE NOT free) AS l, (array_agg(reason ORDER BY ts, seq) FILTER (WHERE free))[1] AS example,
            min(ts) FILTER (WHERE free) AS oldest, max(ts) FILTER (WHERE free) AS newest
     FROM m ${bound} GROUP BY ROLLUP (fingerprint) ORDER BY c DESC, oldest, fingerprint COLLATE "C"`,
    params,
  )
  for (const row of r.rows) {
    if (row.fingerprint === null) {
      out.count = Number(row.c)
      out.backend = { type: 'postgres', leased: Number(row.l) }
    } else if (out.reasons.length < TOP && Number(row.c) > 0) {
      out.reasons.push({ fingerprint: row.fingerprint, count: Number(row.c), example: row.example, oldestTs: Number(row.oldest), newestTs: Number(row.newest) })
    }
  }
  out.stopped = f.limit !== undefined && out.count >= f.limit ? 'limit' : null
  return out
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
