/**
 * A bounded histogram of due times, built in one streaming pass, for "how many items are due
 * at time t" without reading the items again. Bucket i holds the items whose due time lies in
 * [low[i], upper[i]], where both bounds are due times of actual items and buckets do not
 * overlap. Counts are exact per bucket, so "due at t" is exact unless t falls strictly inside a
 * bucket that spans several values; only there is the count interpolated.
 *
 * Buckets are merged toward equal counts (not equal widths): the error of a query is at most
 * one bucket, so equal counts bound it by about 2 × items / maxBuckets whatever the spread of
 * due times (a few items deferred by days next to many due now).
 */

/** [upper bound (ms), items] ascending: the stored form (SegmentMeta.dueHist). */
export type DueHist = Array<[number, number]>

export const MAX_BUCKETS = 64

export class DueHistogram {
  private uppers: number[] = []
  private lows: number[] = []
  private counts: number[] = []
  private total = 0

  constructor(private readonly maxBuckets = MAX_BUCKETS) {}

  add(due: number): void {
    this.total++
    const u = this.uppers
    const n = u.length
    if (n === 0 || due > u[n - 1]) {
      // In order (the common case: later items are due later): a new bucket at the end.
      this.insert(n, due)
    } else {
      let lo = 0
      let hi = n - 1
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (u[mid] >= due) hi = mid
        else lo = mid + 1
      }
      // In the gap before bucket lo: a bucket of its own keeps its neighbours exact.
      if (due < this.lows[lo]) this.insert(lo, due)
      else this.counts[lo]++
    }
    // Twice the final size as work space: compaction runs once per maxBuckets new values.
    if (u.length > 2 * this.maxBuckets) this.compact(this.maxBuckets)
  }

  /** The buckets, at most `maxBuckets`, ascending, and the lowest due time in each. */
  snapshot(): { hist: DueHist; lows: number[] } {
    if (this.uppers.length > this.maxBuckets) this.compact(this.maxBuckets)
    return { hist: this.uppers.map((u, i) => [u, this.counts[i]]), lows: [...this.lows] }
  }

  /** Rebuild from a stored histogram and its lows (to go on adding to it). */
  static from(hist: DueHist, lows: number[], maxBuckets = MAX_BUCKETS): DueHistogram {
    const h = new DueHistogram(maxBuckets)
    hist.forEach(([u, c], i) => {
      h.uppers.push(u)
      h.counts.push(c)
      h.lows.push(lows[i])
      h.total += c
    })
    return h
  }

  private insert(at: number, due: number): void {
    this.uppers.splice(at, 0, due)
    this.lows.splice(at, 0, due)
    this.counts.splice(at, 0, 1)
  }

  private compact(target: number): void {
    // Greedy left-to-right merging under a count threshold; a pass leaves consecutive pairs
    // summing above it, so doubling the threshold converges in a few O(n) passes.
    let threshold = Math.max(1, Math.ceil(this.total / target))
    while (this.uppers.length > target) {
      const nu: number[] = []
      const nl: number[] = []
      const nc: number[] = []
      for (let i = 0; i < this.uppers.length; i++) {
        const last = nc.length - 1
        if (last >= 0 && nc[last] + this.counts[i] <= threshold) {
          nc[last] += this.counts[i]
          nu[last] = this.uppers[i]
        } else {
          nu.push(this.uppers[i])
          nl.push(this.lows[i])
          nc.push(this.counts[i])
        }
      }
      this.uppers = nu
      this.lows = nl
      this.counts = nc
      threshold *= 2
    }
  }
}

export interface DueCount {
  due: number
  /** False when `now` fell strictly inside a bucket spanning several due times (the count is interpolated). */
  exact: boolean
}

/** Items of a histogram due at `now` (due time ≤ now); `lows` is the lowest due time per bucket. */
export function dueAt(hist: DueHist, lows: number[], now: number): DueCount {
  let due = 0
  for (let i = 0; i < hist.length; i++) {
    const [upper, count] = hist[i]
    if (upper <= now) {
      due += count
      continue
    }
    // Items lie in [low, upper], both due times of items.
    const low = lows[i]
    if (low > now) return { due, exact: true }
    // At least one is due, at least one is not.
    const part = Math.min(count - 1, Math.max(1, Math.round((count * (now - low)) / (upper - low))))
    return { due: due + part, exact: false }
  }
  return { due, exact: true }
}
