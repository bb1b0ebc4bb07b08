/**
 * What happens to an item, decided from its envelope alone (pure): moved to the permanent log
 * as expired or exhausted, carried forward because not yet due, or handed to the handler.
 */
import type { Envelope } from './envelope.js'

export type Verdict = 'expired' | 'exhausted' | 'deferred' | 'due'

export interface ClassifyPolicy {
  ttl: number | undefined
  maxAttempts: number
}

/**
 * `now` is called at most once, and only when `ttl` is set or the item has a due time: a
 * fresh item of a log without ttl never needs the clock.
 */
export function classify(env: Envelope, policy: ClassifyPolicy, now: () => number): Verdict {
  let t: number | undefined
  if (policy.ttl !== undefined) {
    t = now()
    if (t - (env.firstTs ?? env.ts) > policy.ttl) return 'expired'
  }
  if (env.attempt >= policy.maxAttempts) return 'exhausted'
  if (env.dueTs !== undefined && env.dueTs > (t ?? now())) return 'deferred'
  return 'due'
}
