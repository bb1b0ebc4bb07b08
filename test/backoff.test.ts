import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { backoffDelay } from '../src/format/outcome.js'

const zero = () => 0

describe('backoffDelay: min(initialWait · 2^(attempt−1), maxWait) + jitter in [0, 10%)', () => {
  it('waits initialWait after the first failure and doubles per attempt', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, 1000, 30_000, zero))).toEqual([1000, 2000, 4000, 8000, 16_000])
  })

  it('caps at maxWait', () => {
    expect(backoffDelay(6, 1000, 30_000, zero)).toBe(30_000)
    expect(backoffDelay(50, 1000, 30_000, zero)).toBe(30_000)
    // 2^(attempt-1) overflows to Infinity: still the cap, never NaN.
    expect(backoffDelay(5000, 1000, 30_000, zero)).toBe(30_000)
  })

  it('treats attempt 0 like attempt 1', () => {
    expect(backoffDelay(0, 500, 30_000, zero)).toBe(500)
  })

  it('is 0 with initialWait 0 whatever the attempt (0 · ∞ must not become NaN)', () => {
    for (const a of [1, 2, 1024, 1025, 5000, Number.MAX_SAFE_INTEGER]) {
      expect(backoffDelay(a, 0, 0, Math.random)).toBe(0)
      expect(backoffDelay(a, 0, 10_000, Math.random)).toBe(0)
    }
  })

  it('adds jitter from the random source, strictly below 10% even when random() is just under 1', () => {
    expect(backoffDelay(1, 1000, 30_000, () => 0.5)).toBe(1050)
    const almostOne = () => 1 - Number.EPSILON
    expect(backoffDelay(1, 1000, 30_000, almostOne)).toBeLessThan(1100)
    expect(backoffDelay(10, 1000, 30_000, almostOne)).toBeLessThan(33_000)
    expect(backoffDelay(10, 1000, 30_000, almostOne)).toBeGreaterThanOrEqual(30_000)
  })

  it('property: an integer in [base, base·1.1) for integer waits, or exactly 0 when base is 0', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, initialWait, extra, r) => {
          const maxWait = initialWait + extra
          const base = initialWait === 0 ? 0 : Math.min(initialWait * 2 ** Math.max(0, attempt - 1), maxWait)
          const d = backoffDelay(attempt, initialWait, maxWait, () => r)
          expect(Number.isInteger(d)).toBe(true)
          expect(d).toBeGreaterThanOrEqual(base)
          if (base === 0) expect(d).toBe(0)
          else expect(d).toBeLessThan(base * 1.1)
        },
      ),
      { numRuns: 2000 },
    )
  })
})
