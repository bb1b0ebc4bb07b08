/**
 * The entry filter (checked and normalized by format/filter.ts, as for a local log) compiled to
 * a WHERE clause with parameters only: a RegExp becomes PostgreSQL's `~` (or `~*` with the `i`
 * flag) on its source, a plain string a literal substring test (`strpos`, so no pattern
 * characters to escape), times compare the entry's `ts`. Plus what only the central store
 * filters by: the kinds (states) an operation looks at, `host` and `logName`.
 */
import { str } from '../base/checks.js'
import { FILTER_KEYS, type NormalFilter, normalizeFilter, stringList } from '../format/filter.js'
import type { Kind } from '../format/model.js'
import { pgText } from './pg-text.js'

/** A row's state: an entry's kind, or a tombstone kept until prune() ('delivered', 'purged'). */
export type EntryState = Kind | 'delivered' | 'purged'

/** The filter keys of the central store: the shared ones, `host` and `logName`. */
export const CENTRAL_FILTER_KEYS = [...FILTER_KEYS, 'host', 'logName'] as const

export interface CentralScope {
  host?: string[]
  logName?: string
}

export interface CompiledFilter {
  where: string
  params: unknown[]
  limit: number | undefined
  /** The filter in words, as results print it. */
  text: string
}

/** Check and normalize the filter fields of `input` (shared and central), for `kind` ('corrupt' refuses id and attempt). */
export function centralFilter(input: object | undefined, kind: Kind | undefined, now = Date.now()): { filter: NormalFilter; scope: CentralScope } {
  const o = (input ?? {}) as Record<string, unknown>
  const scope: CentralScope = {}
  if (o.host !== undefined) scope.host = stringList('host', o.host)
  if (o.logName !== undefined) scope.logName = str('logName', o.logName)
  const filter = normalizeFilter(input, kind, now)
  const words = [
    ...(scope.host ? [`host in [${scope.host.join(', ')}]`] : []),
    ...(scope.logName !== undefined ? [`log ${JSON.stringify(scope.logName)}`] : []),
  ]
  if (words.length > 0) Object.assign(filter, { narrows: true, text: [...(filter.narrows ? [filter.text] : []), ...words].join(', ') })
  return { filter, scope }
}

const STATES: ReadonlySet<string> = new Set<EntryState>(['retry', 'permanent', 'corrupt', 'delivered', 'purged'])

function stateLiteral(s: EntryState): string {
  if (!STATES.has(s)) throw new TypeError(`not an entry state: ${JSON.stringify(s)}`)
  return `'${s}'`
}

/**
 * `first`: number of the first parameter ($first); parameters before it belong to the caller.
 * `states`: the row states to look at (none: the caller adds its own condition).
 */
export function compileFilter(f: NormalFilter, scope: CentralScope, states: EntryState[] | undefined, first = 1): CompiledFilter {
  const conds: string[] = []
  const params: unknown[] = []
  // Stored text never holds what PostgreSQL text cannot (pg-text.ts): neither may a filter,
  // and mapped the same way it matches what was stored.
  const p = (v: unknown) => {
    params.push(typeof v === 'string' ? pgText(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? pgText(x) : x)) : v)
    return `$${first + params.length - 1}`
  }
  // Spelled out, not a parameter: the planner then knows which states a statement reads, and
  // may use the indexes kept for open states only (OPEN_STATES in counts-schema.ts).
  if (states !== undefined) conds.push(`state IN (${states.map(stateLiteral).join(', ')})`)
  const r = f.reason
  if (r !== undefined) {
    // PostgreSQL's syntax, not JavaScript's: a pattern it rejects fails the statement while
    // it is planned (its selectivity estimate compiles the pattern), whatever the rows, and
    // errors.ts maps that (SQLSTATE 2201B) to DLQ_INVALID_OPTION naming this filter.
    if ('regex' in r) conds.push(`coalesce(reason, '') ${r.regex.ignoreCase ? '~*' : '~'} ${p(r.regex.source)}`)
    else conds.push(`strpos(coalesce(reason, ''), ${p(r.substring)}) > 0`)
  }
  if (f.fingerprint !== undefined) conds.push(`fingerprint = ${p(f.fingerprint)}`)
  if (scope.host !== undefined) conds.push(`host = ANY(${p(scope.host)}::text[])`)
  if (scope.logName !== undefined) {
    const a = p(scope.logName)
    conds.push(scope.logName.includes('/') ? `log = ${a}` : `(log = ${a} OR right(log, length(${a}) + 1) = '/' || ${a})`)
  }
  if (f.ids !== undefined) conds.push(`id = ANY(${p(f.ids)}::text[])`)
  // A corrupt entry's text is its raw line (as locally: the quarantined text, not the record).
  if (f.payload !== undefined) conds.push(`strpos(coalesce(raw, payload::text, ''), ${p(f.payload)}) > 0`)
  if (f.attempt !== undefined) conds.push(`attempt >= ${p(f.attempt)}`)
  if (f.since !== undefined) conds.push(`ts >= ${p(f.since)}`)
  if (f.before !== undefined) conds.push(`ts < ${p(f.before)}`)
  return { where: conds.length > 0 ? conds.join(' AND ') : 'true', params, limit: f.limit, text: f.text }
}
