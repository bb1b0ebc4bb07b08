/**
 * Filters and paging from a query string (pages, GET API) or a JSON body (actions): the same
 * names everywhere, checked here so that bad input is a 400 naming the field, never a scan
 * started with a surprise. Page depth is capped: a listing reads past every entry before its
 * page (from the start of the log, or from its end newest first), so a page past the cap is
 * refused with the way out (narrow the filter or flip the order) instead of a slow, large read.
 */
import type { Kind } from '../format/model.js'
import { timeAt } from '../format/filter.js'
import { badRequest } from './http-error.js'
import type { SourceFilter } from './sources.js'

export const MAX_PAGE_SIZE = 200
export const DEFAULT_PAGE_SIZE = 50
/** page × size at most this: the deepest entry a listing will page to. */
export const MAX_DEPTH = 10_000
const MAX_TEXT = 1000
const MAX_IDS = 1000

/** The filter as typed: `reason` a regular expression when `re` (else a substring), times as text. */
export type FilterParams = Pick<SourceFilter, 'kind' | 'payload' | 'host' | 'attempt'> & { reason?: string; re: boolean; id?: string; since?: string; until?: string }

export interface PageParams {
  order: 'newest' | 'oldest'
  page: number
  size: number
}

type Input = Record<string, unknown>

function text(input: Input, name: string, max = MAX_TEXT): string | undefined {
  const v = input[name]
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v !== 'string') throw badRequest(`${name}: expected a string`)
  if (v.length > max) throw badRequest(`${name}: at most ${max} characters`)
  return v
}

function int(input: Input, name: string, min: number, max: number, dflt: number | undefined): number | undefined {
  const v = input[name]
  if (v === undefined || v === null || v === '') return dflt
  const s = typeof v === 'number' ? String(v) : v
  if (typeof s !== 'string' || !/^\s*\d{1,15}\s*$/.test(s)) throw badRequest(`${name}: expected a whole number from ${min} to ${max}`)
  const n = Number(s)
  if (n < min || n > max) throw badRequest(`${name}: expected a whole number from ${min} to ${max}, got ${n}`)
  return n
}

export function parseFilterParams(input: Input): FilterParams {
  // `log` is the parameter's name before 0.2 (links and scripts kept from then still work).
  const name = input.kind === undefined && input.log !== undefined ? 'log' : 'kind'
  const kind = (text(input, name) ?? 'retry') as Kind
  if (kind !== 'retry' && kind !== 'permanent' && kind !== 'corrupt') throw badRequest(`${name}: expected retry, permanent or corrupt`)
  const f: FilterParams = { kind, re: input.re === true || input.re === '1' || input.re === 'on' || input.re === 'true' }
  f.reason = text(input, 'reason', 500)
  f.id = text(input, 'id')
  f.payload = text(input, 'payload')
  f.host = text(input, 'host', 255)
  f.attempt = int(input, 'attempt', 0, 1_000_000, undefined)
  f.since = text(input, 'since', 64)
  f.until = text(input, 'until', 64)
  for (const k of Object.keys(f) as Array<keyof FilterParams>) if (f[k] === undefined) delete f[k]
  return f
}

/**
 * The retry log is a queue: oldest first is what the next replay takes. The permanent and
 * corrupt logs are archives: the latest failures matter most. Both orders cost what a page
 * lists and passes over, for local logs and the central store alike.
 */
export function defaultOrder(kind: Kind): 'newest' | 'oldest' {
  return kind === 'retry' ? 'oldest' : 'newest'
}

export function parsePageParams(input: Input, kind: Kind): PageParams {
  const order = text(input, 'order') ?? defaultOrder(kind)
  if (order !== 'newest' && order !== 'oldest') throw badRequest('order: expected newest or oldest')
  const size = int(input, 'size', 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)!
  const page = int(input, 'page', 1, 1_000_000_000, 1)!
  if (page * size > MAX_DEPTH) {
    throw badRequest(
      `page ${page} is too deep: listings stop at entry ${MAX_DEPTH}; narrow the filter (a time range) or flip the order (order=${order === 'newest' ? 'oldest' : 'newest'})`,
    )
  }
  return { order, page, size }
}

/** The library's one time rule (a duration ago, an ISO date or date-time in UTC unless it has an offset, epoch ms), as a 400 naming the field. */
function parseTime(name: string, value: string, now: number): number {
  try {
    return timeAt(name, value, now)
  } catch {
    throw badRequest(`${name}: expected a duration ago (30m, 2h, 7d), an ISO date (2025-11-01, 2025-11-01T12:00, UTC) or epoch milliseconds`)
  }
}

/** The filter the sources (and through them the admin functions) take. */
export function toSourceFilter(p: FilterParams, now: number): SourceFilter {
  const f: SourceFilter = { kind: p.kind }
  if (p.reason !== undefined) {
    if (p.re) {
      try {
        f.reason = new RegExp(p.reason)
      } catch (err) {
        throw badRequest(`reason: not a valid regular expression (${(err as Error).message})`)
      }
    } else f.reason = p.reason
  }
  if (p.id !== undefined) {
    if (p.kind === 'corrupt') throw badRequest('id: corrupt-log records have no id; match the parse error with reason')
    f.id = p.id
  }
  if (p.payload !== undefined) f.payload = p.payload
  if (p.attempt !== undefined) f.attempt = p.attempt
  if (p.host !== undefined) f.host = p.host
  if (p.since !== undefined) f.since = parseTime('since', p.since, now)
  if (p.until !== undefined) f.until = parseTime('until', p.until, now)
  if (typeof f.since === 'number' && typeof f.until === 'number' && f.since >= f.until) throw badRequest('since must be before until')
  return f
}

/** Ids of selected entries (an action on "the selected ones"). */
export function parseIds(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_IDS || v.some((x) => typeof x !== 'string' || x === '' || x.length > MAX_TEXT)) {
    throw badRequest(`ids: expected 1 to ${MAX_IDS} non-empty strings`)
  }
  return [...new Set(v as string[])]
}

/** Query string of a filter (links: pagination, groups, entries back to their list). */
export function filterQuery(p: FilterParams, extra: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams()
  q.set('kind', p.kind)
  if (p.reason !== undefined) q.set('reason', p.reason)
  if (p.re) q.set('re', '1')
  for (const k of ['id', 'payload', 'host', 'attempt', 'since', 'until'] as const) {
    const v = p[k]
    if (v !== undefined) q.set(k, String(v))
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, String(v))
  return q.toString()
}
