/**
 * The outcome rules, written once for the local replay engine (replay/items.ts) and the
 * central worker (postgres/worker.ts): what happens to an entry before its handler runs
 * (expired, exhausted, deferred or due) and after its handler failed (retried with backoff or
 * made permanent).
 */
import { isPermanentError } from '../base/errors.js'
import type { ResolvedReplayOptions } from '../base/options.js'
import type { EnvelopeHeader, FinalReason } from './envelope.js'

export type Verdict = 'expired' | 'exhausted' | 'deferred' | 'due'

/** The replay options the rules read: local and central replay resolve them alike. */
export type ClassifyPolicy = Pick<ResolvedReplayOptions, 'ttl' | 'maxAttempts'>

/** The fields the rules read, of an envelope or a central row alike. */
export type Timed = Pick<EnvelopeHeader, 'ts' | 'firstTs' | 'attempt' | 'dueTs'>

/**
 * Expired when the first failure is older than `ttl`, exhausted when no attempt is left,
 * deferred when due later. `now` is called at most once, and only when `ttl` is set or the
 * entry has a due time: a fresh item of a log without ttl never needs the clock.
 */
export function classify(e: Timed, policy: ClassifyPolicy, now: () => number): Verdict {
  let t: number | undefined
  if (policy.ttl !== undefined) {
    t = now()
    if (t - (e.firstTs ?? e.ts) > policy.ttl) return 'expired'
  }
  if (e.attempt >= policy.maxAttempts) return 'exhausted'
  if (e.dueTs !== undefined && e.dueTs > (t ?? now())) return 'deferred'
  return 'due'
}

export type BackoffPolicy = Pick<ResolvedReplayOptions, 'maxAttempts' | 'initialWait' | 'maxWait' | 'random'>

export type AfterFailure =
  | { kind: 'retry'; attempt: number; /** Due again this long after now (ms). */ delay: number }
  | { kind: 'permanent'; attempt: number; final: Extract<FinalReason, 'permanent' | 'exhausted'> }

/**
 * What a failed attempt leads to: the attempt count goes up by one; a PermanentError, or no
 * attempt left, makes the entry permanent; otherwise it is due again after a backoff.
 */
export function afterFailure(attempt: number, error: unknown, policy: BackoffPolicy): AfterFailure {
  const next = attempt + 1
  if (isPermanentError(error)) return { kind: 'permanent', attempt: next, final: 'permanent' }
  if (next >= policy.maxAttempts) return { kind: 'permanent', attempt: next, final: 'exhausted' }
  return { kind: 'retry', attempt: next, delay: backoffDelay(attempt, policy.initialWait, policy.maxWait, policy.random) }
}

/**
 * When a re-logged item becomes due again. p-retry's jitter multiplies by 1–2, which cannot
 * express "capped, plus at most 10%", so the delay is computed here.
 *
 *   delay(attempt) = min(initialWait · 2^(attempt−1), maxWait) + jitter, jitter ∈ [0, 10%)
 *
 * `attempt` is the number of attempts the item had before the one that just failed: an item
 * first logged with attempt 1 that fails its first replay waits about `initialWait`.
 */
export function backoffDelay(attempt: number, initialWait: number, maxWait: number, random: () => number): number {
  const exp = Math.max(0, attempt - 1)
  // 2^exp overflows to Infinity for large attempts; min() keeps it at the cap. With
  // initialWait 0 that would be 0 · ∞ = NaN, written as an unparseable dueTs.
  const base = initialWait > 0 ? Math.round(Math.min(initialWait * Math.pow(2, exp), maxWait)) : 0
  // floor, not round: round() reaches exactly +10% when random() is close to 1.
  return base + Math.floor(base * 0.1 * random())
}
