/**
 * The overview's data, shared by the page and /api/overview: each source's cheap counts and
 * the last background reason summary (never a scan in the request).
 */
import type { ReasonGroup } from '../format/model.js'
import type { FailureSeries } from '../format/series.js'
import type { ServeContext } from './context.js'
import { fingerprintRegex } from './groups.js'
import { toErrorBody } from './http-error.js'
import type { Source } from './backend-source.js'
import type { CountsSnapshot } from './sources.js'

export interface GroupLink extends ReasonGroup {
  /** Query string of the entries page showing this group; absent for the lumped-together rest. */
  query?: string
}

export interface OverviewSource {
  key: string
  label: string
  kind: 'log' | 'store'
  counts: CountsSnapshot | null
  oldestPendingAgeMs: number | null
  error: string | null
  reasons: { at: number; tookMs: number; retry: GroupLink[]; permanent: GroupLink[] } | null
  /** New failures in the last 24 h by hour (per host for the store), as last computed; null while the first is. */
  recentFailures: Pick<FailureSeries, 'buckets' | 'totals' | 'total' | 'hosts'> | null
}

export interface Overview {
  at: number
  allowWrites: boolean
  sources: OverviewSource[]
}

const EXAMPLE_MAX = 300

export function groupLinks(groups: ReasonGroup[], kind: 'retry' | 'permanent' | 'corrupt'): GroupLink[] {
  return groups.map((g) => {
    const re = fingerprintRegex(g.fingerprint)
    const example = g.example === null ? null : g.example.slice(0, EXAMPLE_MAX)
    return re === undefined ? { ...g, example } : { ...g, example, query: new URLSearchParams({ kind, reason: re, re: '1' }).toString() }
  })
}

async function one(s: Source, now: number): Promise<OverviewSource> {
  const out: OverviewSource = { key: s.key, label: s.label, kind: s.kind, counts: null, oldestPendingAgeMs: null, error: null, reasons: null, recentFailures: null }
  try {
    out.counts = await s.counts()
    out.oldestPendingAgeMs = out.counts.oldestPendingTs === null ? null : Math.max(0, now - out.counts.oldestPendingTs)
  } catch (err) {
    out.error = toErrorBody(err).error
  }
  try {
    const r = await s.reasons()
    if (r) out.reasons = { at: r.at, tookMs: r.tookMs, retry: groupLinks(r.retry, 'retry'), permanent: groupLinks(r.permanent, 'permanent') }
  } catch {
    // The reason summary is optional decoration; the counts above are what matters.
  }
  try {
    const f = await s.recentFailures()
    if (f) out.recentFailures = { buckets: f.buckets, totals: f.totals, total: f.total, ...(f.hosts ? { hosts: f.hosts } : {}) }
  } catch {
    // Decoration too, like the reason summary.
  }
  return out
}

export async function overview(ctx: ServeContext): Promise<Overview> {
  const now = Date.now()
  return { at: now, allowWrites: ctx.allowWrites, sources: await Promise.all(ctx.sources.map((s) => one(s, now))) }
}
