/**
 * The entry filter shared by inspect, requeue and purge (library and CLI), so `inspect`
 * with a filter previews exactly what `requeue` or `purge` will touch with the same one.
 */
import { type Envelope, rawPayloadOf } from '../format/envelope.js'
import { DeadLetterError, invalidOption } from '../base/errors.js'
import { parseDuration } from '../base/checks.js'
import { type Check, int } from '../base/checks.js'
import type { EntryFilter, LogKind, TimeInput } from './types.js'

export const FILTER_KEYS = ['reason', 'id', 'payload', 'attempt', 'since', 'until', 'olderThan', 'limit'] as const

/** What a filter looks at: envelopes and quarantine records alike. */
export interface Filterable {
  ts: number
  reason: string | null
  id?: string
  attempt?: number
  /** The payload's stored JSON text (corrupt log: the raw line), computed only when a payload filter asks. */
  payloadText?: () => string
}

export type Matcher = (rec: Filterable) => boolean

export interface ResolvedFilter {
  match: Matcher
  limit: number | undefined
  /** The filter in words, as summaries print it ("reason ~ /x/, since 24h"). */
  text: string
  /** False when nothing but a limit was given: every entry matches. */
  narrows: boolean
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/

/**
 * "30d" (that long ago) or an ISO date/time such as 2025-11-01 or 2025-11-01T12:00:00Z, as
 * epoch ms; undefined when it is neither. The CLI's --since/--older-than parse with this too.
 */
export function parseTimeText(value: string, now: number): number | undefined {
  try {
    return now - parseDuration(value)
  } catch {}
  if (ISO_DATE.test(value.trim())) {
    const t = Date.parse(value.trim())
    if (Number.isFinite(t)) return t
  }
  return undefined
}

const TIME_EXPECTED = 'a Date, epoch ms, an ISO date (2025-11-01) or a duration ago (30m, 72h, 30d)'

function timeAt(name: string, v: unknown, now: number): number {
  if (v instanceof Date) {
    if (!Number.isFinite(v.getTime())) throw invalidOption(name, TIME_EXPECTED, 'an invalid Date')
    return v.getTime()
  }
  if (typeof v === 'number' && Number.isFinite(v)) return v
  const t = typeof v === 'string' ? parseTimeText(v, now) : undefined
  if (t === undefined) throw invalidOption(name, TIME_EXPECTED, v)
  return t
}

function timeText(v: TimeInput): string {
  if (typeof v === 'string') return v
  return new Date(v).toISOString()
}

const text: Check<string> = (name, v) => {
  if (typeof v !== 'string') throw invalidOption(name, 'a string', v)
  return v
}

function reasonTest(v: unknown): { test: (s: string) => boolean; text: string } {
  if (v instanceof RegExp) {
    // A copy without the g/y flags: test() on those is stateful and would skip matches.
    const re = new RegExp(v.source, v.flags.replace(/[gy]/g, ''))
    return { test: (s) => re.test(s), text: `reason ~ /${v.source}/${re.flags}` }
  }
  const sub = text('reason', v)
  return { test: (s) => s.includes(sub), text: `reason contains ${JSON.stringify(sub)}` }
}

function ids(v: unknown): string[] {
  const list = Array.isArray(v) ? v : [v]
  if (list.length === 0 || !list.every((x) => typeof x === 'string')) throw invalidOption('id', 'a string or a non-empty array of strings', v)
  return list as string[]
}

/** Check a filter (its keys only; the caller rejects keys it does not know) and build its matcher. */
export function resolveFilter(input: EntryFilter, log: LogKind, now: number): ResolvedFilter {
  const f = input as Record<string, unknown>
  if (log === 'corrupt') {
    for (const k of ['id', 'attempt'] as const) {
      if (f[k] !== undefined) throw invalidOption(k, 'absent for the corrupt log (its records have no id or attempt; use `reason` to match the parse error)', f[k])
    }
  }
  if (f.until !== undefined && f.olderThan !== undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', 'dlq: options `until` and `olderThan` say the same thing; give one of them')
  }
  const words: string[] = []
  const reason = f.reason !== undefined ? reasonTest(f.reason) : undefined
  if (reason) words.push(reason.text)
  const idSet = f.id !== undefined ? new Set(ids(f.id)) : undefined
  if (idSet) words.push(`id in [${[...idSet].join(', ')}]`)
  const payload = f.payload !== undefined ? text('payload', f.payload) : undefined
  if (payload !== undefined) words.push(`payload contains ${JSON.stringify(payload)}`)
  const attempt = f.attempt !== undefined ? int(1)('attempt', f.attempt) : undefined
  if (attempt !== undefined) words.push(`attempt >= ${attempt}`)
  const since = f.since !== undefined ? timeAt('since', f.since, now) : undefined
  if (since !== undefined) words.push(`since ${timeText(f.since as TimeInput)}`)
  let before: number | undefined
  if (f.until !== undefined) {
    before = timeAt('until', f.until, now)
    words.push(`before ${timeText(f.until as TimeInput)}`)
  } else if (f.olderThan !== undefined) {
    const v = f.olderThan
    before = typeof v === 'number' ? now - int(0)('olderThan', v) : timeAt('olderThan', v, now)
    words.push(`older than ${typeof v === 'number' ? `${v} ms` : String(v)}`)
  }
  const limit = f.limit !== undefined ? int(1)('limit', f.limit) : undefined

  const match: Matcher = (rec) => {
    if (since !== undefined && !(rec.ts >= since)) return false
    if (before !== undefined && !(rec.ts < before)) return false
    if (idSet && (rec.id === undefined || !idSet.has(rec.id))) return false
    if (attempt !== undefined && !((rec.attempt ?? 0) >= attempt)) return false
    if (reason && !reason.test(rec.reason ?? '')) return false
    if (payload !== undefined && !(rec.payloadText?.() ?? '').includes(payload)) return false
    return true
  }
  return { match, limit, text: words.length > 0 ? words.join(', ') : 'all entries', narrows: words.length > 0 }
}

/** The filter as a permanent-log rewrite's `select`: the payload text is decoded only when asked. */
export function envelopeSelector(filter: ResolvedFilter): (env: Envelope, line: () => string) => boolean {
  return (env, line) => filter.match({ ts: env.ts, reason: env.reason, id: env.id, attempt: env.attempt, payloadText: () => rawPayloadOf(line(), env) })
}
