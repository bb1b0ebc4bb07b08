/**
 * The entry filter of stats, inspect, requeue and purge, checked and normalized once for both
 * backends: a local log matches the normal form in memory (admin/filters.ts), the central
 * store compiles it to SQL (postgres/filters.ts), so the same filter selects the same entries.
 */
import { DeadLetterError, invalidOption } from '../base/errors.js'
import { parseDuration } from '../base/checks.js'
import { type Check, int } from '../base/checks.js'
import type { Kind, TimeInput } from './model.js'

export const FILTER_KEYS = ['reason', 'fingerprint', 'id', 'payload', 'attempt', 'since', 'until', 'olderThan', 'limit'] as const

/** The kinds requeue and purge change, and why the third is refused: the same rule on both backends. */
const CHANGES = {
  requeue: { kinds: ['permanent', 'retry'], why: 'corrupt entries have no payload to deliver' },
  purge: { kinds: ['permanent', 'corrupt'], why: 'the retry log is never purged: its entries leave through replay' },
} as const

export function changeKind<Op extends keyof typeof CHANGES>(op: Op): Check<(typeof CHANGES)[Op]['kinds'][number]> {
  const { kinds, why } = CHANGES[op]
  return (name, v) => {
    if (!(kinds as readonly unknown[]).includes(v)) throw invalidOption(name, `${kinds.map((k) => `'${k}'`).join(' or ')} for ${op}() (${why})`, v)
    return v as (typeof CHANGES)[Op]['kinds'][number]
  }
}

/** A filter as both backends apply it: times as epoch ms, one regex rule, the limit apart. */
export interface NormalFilter {
  /** Tested on the reason ('' when there is none). */
  reason?: { regex: RegExp } | { substring: string }
  fingerprint?: string
  ids?: string[]
  payload?: string
  attempt?: number
  /** ts >= since. */
  since?: number
  /** ts < before (from `until` or `olderThan`). */
  before?: number
  limit?: number
  /** The filter in words, as results print it ("reason ~ /x/, since 24h"). */
  text: string
  /** False when nothing but a limit was given: every entry matches. */
  narrows: boolean
}

const TIME_EXPECTED = 'a Date, epoch ms, an ISO date or date-time (UTC unless it has an offset) or a duration ago (30m, 72h, 30d)'
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?))?(Z|[+-]\d{2}:?\d{2})?$/

/**
 * Text as a time: ten or more digits are epoch ms, a duration ('30d') is that long before
 * `now`, an ISO date or date-time without an offset is UTC (so a filter means the same on
 * every host). Undefined when it is none of these.
 */
export function parseTimeText(value: string, now: number): number | undefined {
  const v = value.trim()
  if (/^\d{10,15}$/.test(v)) return Number(v)
  try {
    return now - parseDuration(v)
  } catch {}
  const m = ISO.exec(v)
  if (!m) return undefined
  const zone = m[3] === undefined ? 'Z' : m[3].length === 5 ? `${m[3].slice(0, 3)}:${m[3].slice(3)}` : m[3]
  const t = Date.parse(`${m[1]}T${m[2] ?? '00:00'}${zone}`)
  return Number.isFinite(t) ? t : undefined
}

/** Whole ms: stored times are integers (centrally a bigint), and `ts >= t` holds for them exactly when `ts >= ceil(t)`. */
function wholeMs(name: string, t: number, given: unknown): number {
  const ms = Math.ceil(t)
  if (!Number.isSafeInteger(ms)) throw invalidOption(name, TIME_EXPECTED, given)
  return ms
}

export function timeAt(name: string, v: unknown, now: number): number {
  if (v instanceof Date) return wholeMs(name, v.getTime(), v)
  if (typeof v === 'number' && Number.isFinite(v)) return wholeMs(name, v, v)
  const t = typeof v === 'string' ? parseTimeText(v, now) : undefined
  if (t === undefined) throw invalidOption(name, TIME_EXPECTED, v)
  return wholeMs(name, t, v)
}

function timeText(v: TimeInput): string {
  return typeof v === 'string' ? v : new Date(v).toISOString()
}

function text(name: string, v: unknown): string {
  if (typeof v !== 'string') throw invalidOption(name, 'a string', v)
  return v
}

/**
 * A RegExp keeps only what both engines read the same: `i`; `g` and `y` (stateful test())
 * and `d` are dropped. `m`, `s`, `u` and `v` change what a pattern means in ways PostgreSQL's
 * engine has no flag for, so they are refused on both backends.
 */
function reasonOf(v: unknown): NonNullable<NormalFilter['reason']> {
  if (v instanceof RegExp) {
    if (/[msuv]/.test(v.flags)) throw invalidOption('reason', 'a RegExp without the m, s, u or v flags (the central store has no equivalent)', v)
    return { regex: new RegExp(v.source, v.ignoreCase ? 'i' : '') }
  }
  if (typeof v === 'string') return { substring: v }
  throw invalidOption('reason', 'a RegExp or a substring', v)
}

/** A string or a non-empty array of strings (`id`, central `host`), as a list. */
export function stringList(name: string, v: unknown): string[] {
  const list = Array.isArray(v) ? v : [v]
  if (list.length === 0 || !list.every((x) => typeof x === 'string')) throw invalidOption(name, 'a string or a non-empty array of strings', v)
  return list as string[]
}

/**
 * Check the filter fields of `input` (the caller rejects keys it does not know) and normalize
 * them. `kind` 'corrupt' refuses `id` and `attempt`: quarantined records have neither.
 */
export function normalizeFilter(input: object | undefined, kind: Kind | undefined, now: number): NormalFilter {
  const f = (input ?? {}) as Record<string, unknown>
  if (kind === 'corrupt') {
    for (const k of ['id', 'attempt'] as const) {
      if (f[k] !== undefined) throw invalidOption(k, 'absent for corrupt entries (they have no id or attempt; use `reason` to match the parse error)', f[k])
    }
  }
  if (f.until !== undefined && f.olderThan !== undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', 'dlq: options `until` and `olderThan` say the same thing; give one of them')
  }
  const out: NormalFilter = { text: '', narrows: false }
  const words: string[] = []
  if (f.reason !== undefined) {
    out.reason = reasonOf(f.reason)
    words.push('regex' in out.reason ? `reason ~ /${out.reason.regex.source}/${out.reason.regex.flags}` : `reason contains ${JSON.stringify(out.reason.substring)}`)
  }
  if (f.fingerprint !== undefined) {
    out.fingerprint = text('fingerprint', f.fingerprint)
    words.push(`fingerprint ${JSON.stringify(out.fingerprint)}`)
  }
  if (f.id !== undefined) {
    out.ids = [...new Set(stringList('id', f.id))]
    words.push(`id in [${out.ids.join(', ')}]`)
  }
  if (f.payload !== undefined) {
    out.payload = text('payload', f.payload)
    words.push(`payload contains ${JSON.stringify(out.payload)}`)
  }
  if (f.attempt !== undefined) {
    out.attempt = int(1)('attempt', f.attempt)
    words.push(`attempt >= ${out.attempt}`)
  }
  if (f.since !== undefined) {
    out.since = timeAt('since', f.since, now)
    words.push(`since ${timeText(f.since as TimeInput)}`)
  }
  if (f.until !== undefined) {
    out.before = timeAt('until', f.until, now)
    words.push(`before ${timeText(f.until as TimeInput)}`)
  } else if (f.olderThan !== undefined) {
    const v = f.olderThan
    out.before = typeof v === 'number' ? now - int(0)('olderThan', v) : timeAt('olderThan', v, now)
    words.push(`older than ${typeof v === 'number' ? `${v} ms` : String(v)}`)
  }
  if (f.limit !== undefined) out.limit = int(1)('limit', f.limit)
  out.narrows = words.length > 0
  out.text = out.narrows ? words.join(', ') : 'all entries'
  return out
}
