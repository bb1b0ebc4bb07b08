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
