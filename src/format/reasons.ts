/** Failure reasons grouped by fingerprint, in bounded memory whatever the log holds. */
import { fingerprint } from './fingerprint.js'
import type { ReasonGroup } from './model.js'

/** The group that new kinds of reason join once the cap is reached. */
export const OTHER_REASONS = '(other reasons)'

export class ReasonCounter {
  private readonly groups = new Map<string, ReasonGroup>()
  /** Entries counted. */
  matched = 0
  /** True once some reason was lumped into OTHER_REASONS. */
  capped = false

  /**
   * @param maxGroups distinct groups kept; later new kinds are lumped together
   * @param exampleChars how much of a group's oldest reason is kept as its example
   */
  constructor(
    private readonly maxGroups = 10_000,
    private readonly exampleChars = Infinity,
  ) {}

  add(reason: string | null, ts: number): void {
    this.addTo(fingerprint(reason), reason, ts)
  }

  /** `add` for an entry whose fingerprint is already known (stored with it). */
  addTo(key: string, reason: string | null, ts: number): void {
    this.matched++
    if (!this.groups.has(key) && this.groups.size >= this.maxGroups) {
      key = OTHER_REASONS
      this.capped = true
    }
    const g = this.groups.get(key)
    // The example is the oldest entry's reason (the first counted among equals), as the
    // central store picks it: the same group shows the same example on both backends.
    if (g) {
      g.count++
      if (ts < g.oldestTs) {
        g.oldestTs = ts
        g.example = this.exampleOf(reason)
      }
      if (ts > g.newestTs) g.newestTs = ts
    } else {
      this.groups.set(key, { fingerprint: key, count: 1, example: this.exampleOf(reason), oldestTs: ts, newestTs: ts })
    }
  }

  private exampleOf(reason: string | null): string | null {
    return reason === null || reason.length <= this.exampleChars ? reason : reason.slice(0, this.exampleChars)
  }

  /** Adds what another counter counted. */
  merge(other: ReasonCounter): void {
    for (const g of other.groups.values()) {
      this.addTo(g.fingerprint, g.example, g.oldestTs)
      const mine = this.groups.get(this.groups.has(g.fingerprint) ? g.fingerprint : OTHER_REASONS)!
      mine.count += g.count - 1
      this.matched += g.count - 1
      if (g.newestTs > mine.newestTs) mine.newestTs = g.newestTs
    }
  }

  /** The `n` largest groups: by count, then oldest first, then by fingerprint (as the central store orders them). */
  top(n: number): ReasonGroup[] {
    return [...this.groups.values()].sort(byRank).slice(0, n)
  }
}

export function byRank(a: ReasonGroup, b: ReasonGroup): number {
  return b.count - a.count || a.oldestTs - b.oldestTs || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0)
}
