/**
 * The entry filter on a local log: format/filter.ts checks and normalizes it (as for the
 * central store), and this matches the normal form in memory, for envelopes and quarantine
 * records alike, so `inspect` with a filter previews exactly what `requeue` or `purge` touch.
 */
import { type Envelope, rawPayloadOf } from '../format/envelope.js'
import type { CorruptRecord } from '../format/entry.js'
import { type NormalFilter, normalizeFilter } from '../format/filter.js'
import { fingerprint } from '../format/fingerprint.js'
import type { Kind } from '../format/model.js'

export { FILTER_KEYS, parseTimeText } from '../format/filter.js'

/** What a filter looks at. */
export interface Filterable {
  ts: number
  reason: string | null
  id?: string
  attempt?: number
  /** The payload's stored JSON text (corrupt: the quarantined text), computed only when a payload filter asks. */
  payloadText?: () => string
}

export type Matcher = (rec: Filterable) => boolean

export interface ResolvedFilter extends NormalFilter {
  match: Matcher
}

/** Check a filter (its keys only; the caller rejects keys it does not know) and build its matcher. */
export function resolveFilter(input: object | undefined, kind: Kind | undefined, now: number): ResolvedFilter {
  const f = normalizeFilter(input, kind, now)
  return { ...f, match: matcherOf(f) }
}

function matcherOf(f: NormalFilter): Matcher {
  const { since, before, attempt, payload, fingerprint: fp } = f
  const ids = f.ids && new Set(f.ids)
  const r = f.reason
  const reason = r === undefined ? undefined : 'regex' in r ? (s: string) => r.regex.test(s) : (s: string) => s.includes(r.substring)
  return (rec) => {
    if (since !== undefined && !(rec.ts >= since)) return false
    if (before !== undefined && !(rec.ts < before)) return false
    if (ids && (rec.id === undefined || !ids.has(rec.id))) return false
    if (attempt !== undefined && !((rec.attempt ?? 0) >= attempt)) return false
    if (reason && !reason(rec.reason ?? '')) return false
    if (fp !== undefined && fingerprint(rec.reason) !== fp) return false
    if (payload !== undefined && !(rec.payloadText?.() ?? '').includes(payload)) return false
    return true
  }
}

/** An envelope as the filter sees it; `line` gives the stored line (decoded only when a payload filter asks). */
export function envelopeFields(env: Envelope, line: () => string): Filterable {
  return { ts: env.ts, reason: env.reason, id: env.id, attempt: env.attempt, payloadText: () => rawPayloadOf(line(), env) }
}

export function recordFields(rec: CorruptRecord): Filterable {
  return { ts: rec.ts, reason: rec.error, payloadText: () => rec.raw ?? '' }
}
