import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DueHistogram, MAX_BUCKETS, dueAt } from '../src/store/counts/due-histogram.js'

const SEED = Number(process.env.FC_SEED ?? 20261129)

function trueDue(values: number[], now: number): number {
  return values.filter((v) => v <= now).length
}

describe('DueHistogram', () => {
  it('property: every bucket counts exactly the values in [low, upper], buckets in order, at most 64', () => {
    console.log(`due-histogram seed ${SEED}`)
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 3000, size: 'max' }), fc.boolean(), (values, sorted) => {
        const vs = sorted ? [...values].sort((a, b) => a - b) : values
        const h = new DueHistogram()
        for (const v of vs) h.add(v)
        const { hist, lows } = h.snapshot()
        expect(hist.length).toBeLessThanOrEqual(MAX_BUCKETS)
        expect(lows).toHaveLength(hist.length)
        let prev = -Infinity
        hist.forEach(([upper, c], i) => {
          expect(lows[i]).toBeGreaterThan(prev)
          expect(upper).toBeGreaterThanOrEqual(lows[i])
          // Both bounds are values that occur; the count is every value in between.
          expect(vs.includes(lows[i]) && vs.includes(upper)).toBe(true)
          expect(vs.filter((v) => v >= lows[i] && v <= upper).length).toBe(c)
          prev = upper
        })
        expect(hist.reduce((n, [, c]) => n + c, 0)).toBe(vs.length)
      }),
      { seed: SEED, numRuns: 60 },
    )
  })

  it('property: dueAt is exact when it says so, and otherwise within the straddled bucket', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 2000, size: 'max' }),
        fc.integer({ min: -10, max: 100_010 }),
        (values, now) => {
          const h = new DueHistogram()
          for (const v of values) h.add(v)
          const { hist, lows } = h.snapshot()
          const want = trueDue(values, now)
          const got = dueAt(hist, lows, now)
          if (got.exact) expect(got.due).toBe(want)
          const straddled = hist.find(([u], i) => u > now && lows[i] <= now)
          expect(Math.abs(got.due - want)).toBeLessThanOrEqual(straddled ? straddled[1] : 0)
          if (!straddled) expect(got.exact).toBe(true)
        },
      ),
      { seed: SEED, numRuns: 200 },
    )
  })

  it('answers exactly outside the range, at bucket bounds, and in the gaps between buckets', () => {
    const h = new DueHistogram()
    for (let i = 0; i < 10_000; i++) h.add(1000 + i)
    const { hist, lows } = h.snapshot()
    expect(dueAt(hist, lows, 999)).toEqual({ due: 0, exact: true })
    expect(dueAt(hist, lows, 11_000)).toEqual({ due: 10_000, exact: true })
    for (const [upper] of hist) expect(dueAt(hist, lows, upper)).toEqual({ due: upper - 999, exact: true })
    // Two clusters of equal values far apart: exact anywhere between and around them.
    const g = new DueHistogram()
    for (let i = 0; i < 500; i++) g.add(i % 2 === 0 ? 100 : 900)
    const s = g.snapshot()
    for (const now of [99, 100, 500, 899, 900]) expect(dueAt(s.hist, s.lows, now)).toEqual({ due: now < 100 ? 0 : now < 900 ? 250 : 500, exact: true })
  })

  it('keeps buckets near equal counts for in-order values (bounded error)', () => {
    const h = new DueHistogram()
    const n = 100_000
    for (let i = 0; i < n; i++) h.add(i)
    const { hist } = h.snapshot()
    expect(Math.max(...hist.map(([, c]) => c))).toBeLessThanOrEqual(Math.ceil((4 * n) / MAX_BUCKETS))
  })

  it('continues from a snapshot as if never stopped (same invariant)', () => {
    const values = Array.from({ length: 5000 }, (_, i) => (i * 7919) % 3001)
    const a = new DueHistogram()
    for (const v of values.slice(0, 2500)) a.add(v)
    const snap = a.snapshot()
    const b = DueHistogram.from(snap.hist, snap.lows)
    for (const v of values.slice(2500)) b.add(v)
    const { hist, lows } = b.snapshot()
    hist.forEach(([upper, c], i) => {
      expect(values.filter((v) => v >= lows[i] && v <= upper).length).toBe(c)
      if (i > 0) expect(lows[i]).toBeGreaterThan(hist[i - 1][0])
    })
  })
})
