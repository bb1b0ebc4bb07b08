/**
 * Failures over time (the inspector's charts), one shape and one set of rules for both
 * backends: a local log (src/admin/failure-series.ts) and the central store
 * (src/postgres/failure-series.ts) count cells — (UTC hour or day, reason-group fingerprint) →
 * entries — and `assembleSeries` turns them into the top groups, "other reasons" and totals.
 *
 * What counts: every entry the log holds now (retry: after its segment's checkpoint;
 * permanent; corrupt), once, at its `ts`, the time of the failure that wrote it. A re-log (a
 * replay attempt that failed again) replaces the entry, so the item counts once, at its latest
 * failure; a requeue keeps `ts`, so a requeued entry stays where it was; delivered and purged
 * entries no longer count. The central store's rows follow the same rule (state retry,
 * permanent or corrupt, by `ts`).
 */
import { bool, checkOptions, int, oneOf, str, time } from '../base/checks.js'
import type { Kind } from './model.js'
import { OTHER_REASONS } from './reasons.js'

export type SeriesRange = '24h' | '30d'
export type SeriesKind = Kind | 'all'

export interface FailureSeriesOptions {
  /** '24h': the last 24 UTC hours, by hour (the current one included); '30d': the last 30 UTC days, by day. Default '24h'. */
  range?: SeriesRange
  /** Which entries: one kind, or 'all' (retry, permanent and corrupt: every failure held). Default 'all'. */
  kind?: SeriesKind
  /** Groups given their own series (1–20); the rest are summed as "(other reasons)". Default 5. */
  top?: number
  /** The central store: only this host's entries. */
  host?: string
  /** The central store: also the totals per host (the busiest 50). */
  byHost?: boolean
  /** The time the range ends at (tests); default now. */
  now?: number
}

export interface SeriesGroup {
  /** The reason group (`fingerprint()` of the reason), or "(other reasons)" for the rest. */
  fingerprint: string
  total: number
  /** Entries per bucket, aligned with `buckets`. */
  counts: number[]
}

export interface FailureSeries {
  range: SeriesRange
  kind: SeriesKind
  /** Bucket length: 3 600 000 (hour) or 86 400 000 (day), UTC. */
  bucketMs: number
  /** Each bucket's start (epoch ms), oldest first. */
  buckets: number[]
  /** Entries per bucket, all groups together. */
  totals: number[]
  total: number
  /** The top groups, largest first (then by fingerprint), then "(other reasons)" when any. */
  groups: SeriesGroup[]
  /** The central store with `byHost`: totals per host. */
  hosts?: Array<{ host: string; total: number; counts: number[] }>
}

export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
const RANGES: Record<SeriesRange, { bucketMs: number; n: number }> = { '24h': { bucketMs: HOUR_MS, n: 24 }, '30d': { bucketMs: DAY_MS, n: 30 } }

export interface ResolvedSeries extends Pick<FailureSeries, 'range' | 'kind' | 'bucketMs'> {
  kinds: Kind[]
  top: number
  /** First bucket's start; the range is [start, end). */
  start: number
  end: number
  n: number
  host?: string
  byHost: boolean
}

const CHECKS = { range: oneOf<SeriesRange>('24h', '30d'), kind: oneOf<SeriesKind>('all', 'retry', 'permanent', 'corrupt'), top: int(1, 20), host: str, byHost: bool, now: time }

/** Options checked once (unknown ones rejected) and the range made absolute. */
export function resolveSeries(name: string, options: FailureSeriesOptions | undefined): ResolvedSeries {
  const o = checkOptions(name, options, CHECKS)
  const range = o.range ?? '24h'
  const { bucketMs, n } = RANGES[range]
  const now = o.now ?? Date.now()
  const end = (Math.floor(now / bucketMs) + 1) * bucketMs
  const kind = o.kind ?? 'all'
  return {
    range,
    kind,
    kinds: kind === 'all' ? ['retry', 'permanent', 'corrupt'] : [kind],
    top: o.top ?? 5,
    bucketMs,
    start: end - n * bucketMs,
    end,
    n,
    host: o.host,
    byHost: o.byHost ?? false,
  }
}

/** Counted cells: bucket index (0 = the oldest bucket) → fingerprint → entries. */
export type Cells = Map<number, Map<string, number>>

export function addCell(cells: Cells, bucket: number, fp: string, n: number): void {
  let row = cells.get(bucket)
  if (!row) cells.set(bucket, (row = new Map()))
  row.set(fp, (row.get(fp) ?? 0) + n)
}

/**
 * The top `r.top` groups by entries in the range (ties by fingerprint, byte order, as the
 * central query orders them), the rest summed as "(other reasons)".
 */
export function assembleSeries(r: ResolvedSeries, cells: Cells): FailureSeries {
  const totalsByFp = new Map<string, number>()
  for (const row of cells.values()) for (const [fp, c] of row) totalsByFp.set(fp, (totalsByFp.get(fp) ?? 0) + c)
  const ranked = [...totalsByFp.entries()].filter(([fp]) => fp !== OTHER_REASONS).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const top = ranked.slice(0, r.top).map(([fp]) => fp)
  const index = new Map(top.map((fp, i) => [fp, i]))
  const zeros = () => new Array<number>(r.n).fill(0)
  const groups: SeriesGroup[] = top.map((fp) => ({ fingerprint: fp, total: 0, counts: zeros() }))
  const other: SeriesGroup = { fingerprint: OTHER_REASONS, total: 0, counts: zeros() }
  const totals = zeros()
  for (const [b, row] of cells) {
    if (b < 0 || b >= r.n) continue
    for (const [fp, c] of row) {
      const g = groups[index.get(fp) ?? -1] ?? other
      g.counts[b]! += c
      g.total += c
      totals[b]! += c
    }
  }
  if (other.total > 0) groups.push(other)
  return {
    range: r.range,
    kind: r.kind,
    bucketMs: r.bucketMs,
    buckets: Array.from({ length: r.n }, (_, i) => r.start + i * r.bucketMs),
    totals,
    total: totals.reduce((a, b) => a + b, 0),
    groups,
  }
}
