import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DueHistogram, MAX_BUCKETS, dueAt } from '../src/due-histogram.js'

const SEED = Number(process.env.FC_SEED ?? 20261129)

function trueDue(values: number[], now: number): number {
  return values.filter((v) => v <= now).length
}

describe('DueHistogram', () => {
  it('property: every bucket counts exactly the values in (previous upper, upper], at most 64 buckets', () => {
    console.log(`due-histogram seed ${SEED}`)
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 3000 }),
        fc.boolean(),
        (values, sorted) => {
          const vs = sorted ? [...values].sort((a, b) => a - b) : values
          const h = new DueHistogram()
          for (const v of vs) h.add(v)
          const hist = h.snapshot()
          expect(hist.length).toBeLessThanOrEqual(MAX_BUCKETS)
          let prev = -Infinity
          for (const [upper, c] of hist) {
            expect(upper).toBeGreaterThan(prev)
            expect(vs.filter((v) => v > prev && v <= upper).length).toBe(c)
            prev = upper
          }
          expect(hist.reduce((n, [, c]) => n + c, 0)).toBe(vs.length)
        },
      ),
      { seed: SEED, numRuns: 60 },
    )
  })

  it('property: dueAt is exact when it says so, and otherwise within the straddled bucket', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 2000 }),
        fc.integer({ min: -10, max: 100_010 }),
        (values, now) => {
          const h = new DueHistogram()
          for (const v of values) h.add(v)
          const hist = h.snapshot()
          const min = Math.min(...values)
          const got = dueAt(hist, min, now)
          const want = trueDue(values, now)
          if (got.exact) expect(got.due).toBe(want)
          // Never off by more than one bucket's count.
          const straddled = hist.find(([u], i) => u > now && (i === 0 ? min <= now : hist[i - 1][0] < now))
          expect(Math.abs(got.due - want)).toBeLessThanOrEqual(straddled ? straddled[1] : 0)
        },
      ),
      { seed: SEED, numRuns: 200 },
    )
  })

  it('answers exactly outside the range and at bucket bounds', () => {
    const h = new DueHistogram()
    for (let i = 0; i < 10_000; i++) h.add(1000 + i)
    const hist = h.snapshot()
    expect(dueAt(hist, 1000, 999)).toEqual({ due: 0, exact: true })
    expect(dueAt(hist, 1000, 11_000)).toEqual({ due: 10_000, exact: true })
    for (const [upper] of hist) expect(dueAt(hist, 1000, upper)).toEqual({ due: upper - 999, exact: true })
  })

  it('keeps buckets near equal counts for in-order values (bounded error)', () => {
    const h = new DueHistogram()
    const n = 100_000
    for (let i = 0; i < n; i++) h.add(i)
    const hist = h.snapshot()
    expect(Math.max(...hist.map(([, c]) => c))).toBeLessThanOrEqual(Math.ceil((4 * n) / MAX_BUCKETS))
  })

  it('continues from a snapshot as if never stopped (same invariant)', () => {
    const a = new DueHistogram()
    const values = Array.from({ length: 5000 }, (_, i) => (i * 7919) % 3001)
    for (const v of values.slice(0, 2500)) a.add(v)
    const b = DueHistogram.from(a.snapshot(), Math.min(...values.slice(0, 2500)))
    for (const v of values.slice(2500)) b.add(v)
    let prev = -Infinity
    for (const [upper, c] of b.snapshot()) {
      expect(values.filter((v) => v > prev && v <= upper).length).toBe(c)
      prev = upper
    }
  })
})
