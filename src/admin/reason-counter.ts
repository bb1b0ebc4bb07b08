/** Failure reasons grouped by fingerprint, in bounded memory whatever the log holds. */
import { fingerprint } from '../format/fingerprint.js'
import type { ReasonGroup } from './types.js'

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
   * @param exampleChars how much of a group's first reason is kept as its example
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
    if (g) {
      g.count++
      if (ts < g.firstSeen) g.firstSeen = ts
      if (ts > g.lastSeen) g.lastSeen = ts
    } else {
      const example = reason === null || reason.length <= this.exampleChars ? reason : reason.slice(0, this.exampleChars)
      this.groups.set(key, { reason: key, count: 1, firstSeen: ts, lastSeen: ts, example })
    }
  }

  top(n: number): ReasonGroup[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || a.firstSeen - b.firstSeen).slice(0, n)
  }
}
