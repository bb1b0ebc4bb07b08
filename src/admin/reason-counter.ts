/** Failure reasons grouped by fingerprint, in bounded memory whatever the log holds. */
import { fingerprint } from './fingerprint.js'
import type { ReasonGroup } from './types.js'

const MAX_GROUPS = 10_000

export class ReasonCounter {
  private readonly groups = new Map<string, ReasonGroup>()

  add(reason: string | null, ts: number): void {
    let key = fingerprint(reason)
    // Past the cap, new kinds are lumped together.
    if (!this.groups.has(key) && this.groups.size >= MAX_GROUPS) key = '(other reasons)'
    const g = this.groups.get(key)
    if (g) {
      g.count++
      if (ts < g.firstSeen) g.firstSeen = ts
      if (ts > g.lastSeen) g.lastSeen = ts
    } else {
      this.groups.set(key, { reason: key, count: 1, firstSeen: ts, lastSeen: ts, example: reason })
    }
  }

  top(n: number): ReasonGroup[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || a.firstSeen - b.firstSeen).slice(0, n)
  }
}
