/** How a replay handler treats item `n` (deterministic, so the checker knows the expected outcome). */
export type ItemClass = 'ok' | 'flaky' | 'doomed' | 'permanent'

export function classOf(n: number): ItemClass {
  const h = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b) >>> 0
  const r = h % 100
  if (r < 70) return 'ok'
  if (r < 85) return 'flaky'
  if (r < 92) return 'doomed'
  return 'permanent'
}

/** Where item `n` must end up once the log is drained. */
export function expectedHome(n: number): 'delivered' | 'permanent' {
  const c = classOf(n)
  return c === 'ok' || c === 'flaky' ? 'delivered' : 'permanent'
}

/** Writer/replayer test: ~10% fail once, n % 97 === 0 fail for good. */
export function wrClass(n: number): 'ok' | 'flaky' | 'permanent' {
  if (n % 97 === 0) return 'permanent'
  return (Math.imul(n ^ 0x5bd1e995, 0x27d4eb2d) >>> 0) % 10 === 0 ? 'flaky' : 'ok'
}
