/**
 * A bounded histogram of due times, built in one streaming pass, for "how many items are due
 * at time t" without reading the items again. Bucket i holds the items whose due time lies in
 * (upper[i-1], upper[i]] (the first bucket: [min, upper[0]]). Counts are exact per bucket, so
 * "due at t" is exact whenever t is not strictly inside a bucket that spans several values;
 * inside one, the count is interpolated.
 *
 * Buckets are merged toward equal counts (not equal widths): the error of a query is at most
 * one bucket, so equal counts bound it by about 2 × items / maxBuckets whatever the spread of
 * due times (a few items deferred by days next to many due now).
 */

export type DueHist = Array<[number, number]>

export const MAX_BUCKETS = 64

export class DueHistogram {
  private uppers: number[] = []
  private counts: number[] = []
  private total = 0
  private low = Infinity

  constructor(private readonly maxBuckets = MAX_BUCKETS) {}

  add(due: number): void {
    this.total++
    const u = this.uppers
    const n = u.length
    if (n === 0 || due > u[n - 1]) {
      // In order (the common case: later items are due later): a new bucket at the end.
      u.push(due)
      this.counts.push(1)
    } else if (due < this.low) {
      // Before everything seen: its own bucket keeps the earlier buckets exact.
      u.unshift(due)
      this.counts.unshift(1)
    } else {
      let lo = 0
      let hi = n - 1
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (u[mid] >= due) hi = mid
        else lo = mid + 1
      }
      this.counts[lo]++
    }
    if (due < this.low) this.low = due
    // Twice the final size as work space: compaction runs once per maxBuckets new values.
    if (u.length > 2 * this.maxBuckets) this.compact(this.maxBuckets)
  }

  /** The buckets, at most `maxBuckets`, ascending. */
  snapshot(): DueHist {
    if (this.uppers.length > this.maxBuckets) this.compact(this.maxBuckets)
    return this.uppers.map((u, i) => [u, this.counts[i]])
  }

  /** Rebuild from a stored histogram (to go on adding to it). */
  static from(hist: DueHist, min: number | null, maxBuckets = MAX_BUCKETS): DueHistogram {
    const h = new DueHistogram(maxBuckets)
    for (const [u, c] of hist) {
      h.uppers.push(u)
      h.counts.push(c)
      h.total += c
    }
    if (min !== null) h.low = min
    return h
  }

  private compact(target: number): void {
    // Greedy left-to-right merging under a count threshold; a pass leaves consecutive pairs
    // summing above it, so doubling the threshold converges in a few O(n) passes.
    let threshold = Math.max(1, Math.ceil(this.total / target))
    while (this.uppers.length > target) {
      const nu: number[] = []
      const nc: number[] = []
      for (let i = 0; i < this.uppers.length; i++) {
        const last = nc.length - 1
        if (last >= 0 && nc[last] + this.counts[i] <= threshold) {
          nc[last] += this.counts[i]
          nu[last] = this.uppers[i]
        } else {
          nu.push(this.uppers[i])
          nc.push(this.counts[i])
        }
      }
      this.uppers = nu
      this.counts = nc
      threshold *= 2
    }
  }
}

export interface DueCount {
  due: number
  /** False when `now` fell inside a bucket spanning several due times (the count is interpolated). */
  exact: boolean
}

/** Items of a histogram due at `now` (due time ≤ now). */
export function dueAt(hist: DueHist, minDue: number | null, now: number): DueCount {
  let due = 0
  let lower = minDue ?? -Infinity
  for (let i = 0; i < hist.length; i++) {
    const [upper, count] = hist[i]
    if (upper <= now) {
      due += count
      lower = upper
      continue
    }
    // Bucket 0 includes its lower bound (the minimum); later buckets exclude it.
    if (i === 0 ? lower > now : lower >= now) return { due, exact: true }
    // A bucket never merged holds one item, due exactly at its upper bound: not due yet.
    if (count === 1) return { due, exact: true }
    let part = Math.floor((count * (now - lower)) / (upper - lower))
    // The minimum itself is due when now ≥ it; the upper bound itself is not (upper > now).
    if (i === 0) part = Math.max(part, 1)
    part = Math.min(part, count - 1)
    return { due: due + part, exact: false }
  }
  return { due, exact: true }
}
