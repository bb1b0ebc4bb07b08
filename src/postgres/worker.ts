/**
 * `store.replay(handler)`: a central replay worker, safe to run on many hosts at once. It
 * claims due entries in batches under a lease, calls the handler with the local replay's
 * semantics, and settles the batch in one transaction:
 *   delivered → state 'delivered';
 *   failure → attempt + 1 and a backoff due time, or 'permanent' when PermanentError or
 *     attempts are exhausted; over `ttl` → 'permanent' ('expired') — the local engine's rules
 *     (src/format/outcome.ts);
 *   handler not settled within `handlerTimeout` → a failure.
 * It returns when nothing is due that was due when it started (or `limit`, or abort): an entry
 * it re-queues is the next run's, as with the local replay. Delivery is at-least-once: a worker
 * that dies after its handler ran but before settling hands the entry to the next worker
 * when the lease ends — duplicates are bounded by one claimed batch per crashed worker.
 */
import crypto from 'node:crypto'
import os from 'node:os'
import { describeReason } from '../format/envelope.js'
import type { Stopped } from '../format/model.js'
import { afterFailure, classify } from '../format/outcome.js'
import type { LoggerLike } from '../base/options.js'
import { claim, type ClaimScope, type Failure, release, renew, settle } from './claim.js'
import type { Db } from './db.js'
import { compactCounts } from './kept-counts.js'
import { type CentralEntry, toEntry } from './entry.js'
import { fingerprintOf } from './fingerprint.js'
import { pgTextOrNull } from './pg-text.js'
import type { ResolvedCentralReplayOptions } from './options.js'
import type { Tables } from './schema.js'
import { ProcessSpans, callHandler } from '../base/trace.js'

export type CentralHandler<T = unknown> = (payload: T, entry: CentralEntry<T>) => unknown | Promise<unknown>

export interface CentralReplaySummary {
  handled: number
  delivered: number
  /** Failed: attempt + 1, due again after a backoff. */
  requeued: number
  /** Became permanent: PermanentError or attempts exhausted. */
  permanent: number
  /** Became permanent because older than `ttl`. */
  expired: number
  /** Claimed but given back unstarted: on abort, or when the lease could no longer be vouched for. */
  released: number
  stopped: Stopped
  durationMs: number
}

export async function runWorker(db: Db, t: Tables, handler: CentralHandler, o: ResolvedCentralReplayOptions, logger?: LoggerLike): Promise<CentralReplaySummary> {
  const t0 = Date.now()
  const owner = `${os.hostname()}:${process.pid}:${crypto.randomBytes(6).toString('hex')}`
  const s: CentralReplaySummary = { handled: 0, delivered: 0, requeued: 0, permanent: 0, expired: 0, released: 0, stopped: null, durationMs: 0 }
  const scope: ClaimScope = { ...(o.host !== undefined ? { host: o.host } : {}), ...(o.logName !== undefined ? { log: o.logName } : {}) }
  const spans = o.trace
    ? await ProcessSpans.start<CentralEntry>(o.traceParent, { destination: (e) => e.log, where: (e) => `central entry ${e.seq}` }, (m) => logger?.warn({}, `dlq: ${m}`))
    : undefined
  let batches = 0
  // A batch that only delivered is settled by the next claim (claimStatement): one statement per batch.
  let delivered: number[] = []
  for (;;) {
    if (o.signal?.aborted) {
      s.stopped = 'abort'
      break
    }
    const left = o.limit === undefined ? Infinity : o.limit - s.handled
    if (left <= 0) {
      s.stopped = 'limit'
      break
    }
    const sent = performance.now()
    const batch = await claim(db, t, owner, Math.min(o.batchSize, left), o.lease, scope, delivered)
    delivered = []
    if (batch.rows.length === 0) break
    scope.dueBy ??= batch.serverNow
    delivered = await runBatch(db, t, owner, handler, o, batch.rows.map(toEntry), batch.serverNow, sent, s, logger, spans)
    if (++batches % FOLD_EVERY === 0) await foldCounts(db, t, logger)
  }
  await settle(db, t, owner, delivered, [], unstorable)
  await foldCounts(db, t, logger)
  spans?.flush()
  s.durationMs = Date.now() - t0
  return s
}

/** Settled batches between folds of the count deltas: a long drain keeps them few. */
const FOLD_EVERY = 64

/** Fold the count deltas (kept-counts.ts); the counts are exact without it, so a failure only warns. */
async function foldCounts(db: Db, t: Tables, logger: LoggerLike | undefined): Promise<void> {
  await compactCounts(db, t).catch((err) => logger?.warn({ err }, 'dlq: could not fold the kept counts'))
}

async function runBatch(
  db: Db,
  t: Tables,
  owner: string,
  handler: CentralHandler,
  o: ResolvedCentralReplayOptions,
  entries: CentralEntry[],
  serverNow: number,
  claimSent: number,
  s: CentralReplaySummary,
  logger: LoggerLike | undefined,
  spans: ProcessSpans<CentralEntry> | undefined,
): Promise<number[]> {
  const localAtClaim = Date.now()
  const now = () => serverNow + (Date.now() - localAtClaim)
  const delivered: number[] = []
  const failed: Failure[] = []
  // Finished entries too: their outcome is recorded only when the batch settles.
  const claimed = entries.map((e) => e.seq)
  // A lease is a promise that no other worker runs these entries until it ends, so a handler
  // may start only under a lease this worker can vouch for: until `heldUntil` (counted on
  // this host's monotonic clock from when the claim or the last renewal was sent, so never
  // later than the server's), and only for entries the last renewal still found ours. With
  // less than a third of it left — the next renewal may come too late — entries are given
  // back unstarted, as on abort; after a stall (a blocked event loop, renewals failing)
  // another worker may already have claimed them.
  let heldUntil = claimSent + o.lease
  const lost = new Set<number>()
  // Long handlers keep their lease: renewed at a third of its length while the handlers run.
  // One renewal at a time, and none once the batch settles: a renewal and the settle (or the
  // release) update the same rows, and on two connections at once they lock them in
  // different orders — PostgreSQL found them deadlocked. Settling needs no renewal: it
  // checks the owner, not the lease's end.
  let renewing: Promise<void> | undefined
  const heartbeat = setInterval(() => {
    if (renewing) return
    const sent = performance.now()
    renewing = renew(db, t, owner, claimed, o.lease)
      .then(
        (held) => {
          heldUntil = Math.max(heldUntil, sent + o.lease)
          for (const seq of claimed) if (!held.has(seq)) lost.add(seq)
        },
        (err) => logger?.warn({ err }, 'dlq: could not renew the lease of claimed entries'),
      )
      .finally(() => {
        renewing = undefined
      })
  }, Math.max(50, Math.floor(o.lease / 3)))
  heartbeat.unref()
  const vouched = (seq: number) => !lost.has(seq) && heldUntil - performance.now() > o.lease / 3
  let next = 0
  const notStarted: number[] = []
  const one = async (e: CentralEntry): Promise<void> => {
    // Claimed entries are due: only expiry and exhaustion keep the handler from running.
    const verdict = classify(e, o, now)
    if (verdict === 'expired' || verdict === 'exhausted') {
      s[verdict === 'expired' ? 'expired' : 'permanent']++
      failed.push(failure(e, 'permanent', e.attempt, e.reason, e.errorName ?? null, e.errorCode ?? null, verdict, now(), 0, false))
      return
    }
    let error: unknown
    let threw = false
    try {
      await callHandler(spans, handler, e.payload, e, o.handlerTimeout)
    } catch (err) {
      threw = true
      error = err
    }
    if (!threw) {
      s.delivered++
      delivered.push(e.seq)
      return
    }
    const r = describeReason(error)
    const at = now()
    const next = afterFailure(e.attempt, error, o)
    s[next.kind === 'retry' ? 'requeued' : 'permanent']++
    const final = next.kind === 'retry' ? null : next.final
    failed.push(failure(e, next.kind, next.attempt, r.text, r.errorName ?? null, r.errorCode ?? null, final, at, next.kind === 'retry' ? at + next.delay : 0, true))
  }
  const lane = async (): Promise<void> => {
    while (next < entries.length) {
      const e = entries[next++]!
      if (o.signal?.aborted || !vouched(e.seq)) {
        notStarted.push(e.seq)
        continue
      }
      s.handled++
      await one(e)
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency, entries.length) }, lane))
  } finally {
    clearInterval(heartbeat)
    await renewing
  }
  if (notStarted.length > 0) {
    await release(db, t, owner, notStarted)
    s.released += notStarted.length
  }
  if (failed.length === 0) return delivered
  const refused = await settle(db, t, owner, delivered, failed, unstorable)
  for (const f of refused) {
    logger?.warn({ seq: f.seq, attempt: f.attempt }, 'dlq: the database refused to record the outcome of a central entry; it runs again when its lease ends')
  }
  return []
}

/** `reason`, `errorName`, `errorCode`: as describeReason() made them (bounded), or as stored. */
function failure(
  e: CentralEntry, state: 'retry' | 'permanent', attempt: number, reason: string | null,
  errorName: string | null, errorCode: string | null, final: string | null, ts: number, dueTs: number, tried: boolean,
): Failure {
  const text = pgTextOrNull(reason)
  return {
    seq: e.seq, state, attempt, reason: text, fingerprint: fingerprintOf(text), errorName: pgTextOrNull(errorName), errorCode: pgTextOrNull(errorCode),
    final, ts: Math.trunc(ts), dueTs: Math.trunc(dueTs), tried,
  }
}

/** A failure whose values the database refused: the outcome stands, the reason says why it is not there. */
function unstorable(f: Failure, sqlState: string): Failure {
  const reason = `[the handler's failure reason could not be stored: PostgreSQL refused it with SQLSTATE ${sqlState}]`
  return { ...f, reason, fingerprint: fingerprintOf(reason), errorName: null, errorCode: null }
}
