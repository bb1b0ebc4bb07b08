/**
 * The one filter language of inspect, stats, requeue and purge, compiled to a WHERE clause
 * with parameters only: a RegExp becomes PostgreSQL's `~` (or `~*` with the `i` flag) on its
 * source, a plain string a literal substring test (`strpos`, so no pattern characters to
 * escape), times compare the entry's `ts`.
 */
import { DeadLetterError, invalidOption } from '../base/errors.js'
import { parseDuration } from '../base/checks.js'
import { duration as boundedDuration } from '../base/checks.js'
import { pgText } from './pg-text.js'

export type EntryState = 'retry' | 'permanent' | 'corrupt' | 'delivered' | 'purged'
export const ALL_STATES: EntryState[] = ['retry', 'permanent', 'corrupt', 'delivered', 'purged']
/** What "all entries" means unless states are named: what still needs someone. */
export const OPEN_STATES: EntryState[] = ['retry', 'permanent', 'corrupt']

export interface EntryFilter {
  state?: EntryState | EntryState[]
  /** RegExp (PostgreSQL regular expression syntax for the source; `i` flag honoured) or a literal substring. */
  reason?: RegExp | string
  /** Reason fingerprint, exactly as `stats()` reports it. */
  fingerprint?: string
  host?: string | string[]
  /** Log name as shipped (the absolute path by default); a bare file name matches any directory. */
  log?: string
  id?: string | string[]
  /** Substring of the payload's JSON text as PostgreSQL prints jsonb (`{"a": 1}`: a space after `:` and `,`); corrupt entries: of the raw line. */
  payload?: string
  /** Minimum attempt count (entries with attempt >= this). */
  attempt?: number
  /** Recorded at or after: epoch ms, Date, ISO string, or a duration ago ('24h'). */
  since?: number | Date | string
  /** Recorded before: same forms as `since`. */
  until?: number | Date | string
  /** Recorded longer ago than this (ms or '30d'), as the CLI's --older-than spells it. Not with `until`. */
  olderThan?: number | string
  /** At most this many entries. */
  limit?: number
}

export interface CompiledFilter {
  where: string
  params: unknown[]
  limit: number | undefined
}

const KNOWN = new Set(['state', 'reason', 'fingerprint', 'host', 'log', 'id', 'payload', 'attempt', 'since', 'until', 'olderThan', 'limit'])

function list(name: string, v: unknown): string[] {
  const arr = Array.isArray(v) ? v : [v]
  if (arr.length === 0 || arr.some((x) => typeof x !== 'string')) throw invalidOption(name, 'a string or an array of strings', v)
  return arr as string[]
}

export function timeOf(name: string, v: unknown, now: number): number {
  if (v instanceof Date && Number.isFinite(v.getTime())) return v.getTime()
  // Compared with a bigint column: only what it holds exactly.
  if (typeof v === 'number' && Number.isSafeInteger(Math.trunc(v))) return v
  if (typeof v === 'string') {
    let ago: number | undefined
    try {
      ago = parseDuration(v)
    } catch {}
    if (ago !== undefined && ago <= Number.MAX_SAFE_INTEGER) return now - ago
    const t = Date.parse(v)
    if (Number.isFinite(t)) return t
  }
  throw invalidOption(name, 'epoch ms, a Date, an ISO date or a duration ago such as "24h"', v)
}

/** `first`: number of the first parameter ($first); parameters before it belong to the caller. */
export function compileFilter(input: EntryFilter | undefined, first = 1, defaultStates: EntryState[] = OPEN_STATES, now = Date.now()): CompiledFilter {
  const f = input ?? {}
  if (typeof f !== 'object' || Array.isArray(f)) throw new DeadLetterError('DLQ_INVALID_ARGUMENT', 'dlq: a filter must be an object')
  for (const k of Object.keys(f)) {
    if (!KNOWN.has(k)) throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: unknown filter \`${k}\` (known: ${[...KNOWN].sort().join(', ')})`)
  }
  const conds: string[] = []
  const params: unknown[] = []
  // Stored text never holds what PostgreSQL text cannot (pg-text.ts): neither may a filter,
  // and mapped the same way it matches what was stored.
  const p = (v: unknown) => {
    params.push(typeof v === 'string' ? pgText(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? pgText(x) : x)) : v)
    return `$${first + params.length - 1}`
  }
  const states = f.state === undefined ? defaultStates : list('state', f.state)
  for (const s of states) if (!ALL_STATES.includes(s as EntryState)) throw invalidOption('state', `one of ${ALL_STATES.join(', ')}`, s)
  conds.push(`state = ANY(${p(states)}::text[])`)
  if (f.reason !== undefined) {
    if (f.reason instanceof RegExp) {
      const bad = f.reason.flags.replace(/[igyd]/g, '')
      if (bad) throw invalidOption('reason', 'a RegExp without the m, s, u or v flags (PostgreSQL regular expressions have no equivalent)', f.reason)
      // PostgreSQL's syntax, not JavaScript's: a pattern it rejects fails the statement while
      // it is planned (its selectivity estimate compiles the pattern), whatever the rows, and
      // errors.ts maps that (SQLSTATE 2201B) to DLQ_INVALID_OPTION naming this filter.
      conds.push(`coalesce(reason, '') ${f.reason.ignoreCase ? '~*' : '~'} ${p(f.reason.source)}`)
    } else if (typeof f.reason === 'string') {
      conds.push(`strpos(coalesce(reason, ''), ${p(f.reason)}) > 0`)
    } else {
      throw invalidOption('reason', 'a RegExp or a substring', f.reason)
    }
  }
  if (f.fingerprint !== undefined) conds.push(`fingerprint = ${p(list('fingerprint', f.fingerprint)[0])}`)
  if (f.host !== undefined) conds.push(`host = ANY(${p(list('host', f.host))}::text[])`)
  if (f.log !== undefined) {
    const log = list('log', f.log)[0]!
    const a = p(log)
    conds.push(log.includes('/') ? `log = ${a}` : `(log = ${a} OR right(log, length(${a}) + 1) = '/' || ${a})`)
  }
  if (f.id !== undefined) conds.push(`id = ANY(${p(list('id', f.id))}::text[])`)
  if (f.payload !== undefined) {
    if (typeof f.payload !== 'string') throw invalidOption('payload', 'a string', f.payload)
    conds.push(`strpos(coalesce(raw, payload::text, ''), ${p(f.payload)}) > 0`)
  }
  if (f.attempt !== undefined) {
    if (typeof f.attempt !== 'number' || !Number.isSafeInteger(f.attempt) || f.attempt < 0) throw invalidOption('attempt', 'an integer >= 0', f.attempt)
    conds.push(`attempt >= ${p(f.attempt)}`)
  }
  if (f.olderThan !== undefined) {
    if (f.until !== undefined) throw new DeadLetterError('DLQ_INVALID_OPTION', 'dlq: filter `olderThan` cannot be combined with `until`')
    conds.push(`ts < ${p(Math.trunc(now - boundedDuration('olderThan', f.olderThan)))}`)
  }
  if (f.since !== undefined) conds.push(`ts >= ${p(Math.trunc(timeOf('since', f.since, now)))}`)
  if (f.until !== undefined) conds.push(`ts < ${p(Math.trunc(timeOf('until', f.until, now)))}`)
  if (f.limit !== undefined && (typeof f.limit !== 'number' || !Number.isSafeInteger(f.limit) || f.limit < 1)) {
    throw invalidOption('limit', 'an integer >= 1', f.limit)
  }
  return { where: conds.join(' AND '), params, limit: f.limit }
}
