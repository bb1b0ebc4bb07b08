/**
 * The record filters shared by inspect, requeue and purge, so `inspect` with the same flags
 * previews exactly what `requeue` or `purge` will touch.
 */
import { type Command, InvalidArgumentError, Option } from 'commander'
import { parseDuration, parseSize } from '../options.js'
import { usageError } from './output.js'

export interface FilterFlags {
  reason?: RegExp
  id?: string[]
  since?: TimeBound
  olderThan?: TimeBound
  limit?: number
}

/** A point in time given either as an age ("30d" ago) or as an ISO date. */
export interface TimeBound {
  text: string
  at: (now: number) => number
}

export function parseIntArg(min: number): (value: string) => number {
  return (value) => {
    if (!/^\s*\d+\s*$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`)
    }
    return Number(value)
  }
}

export function parseDurationArg(value: string): string {
  try {
    parseDuration(value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
  // Kept as text: the library parses it again, so both report the same value.
  return value
}

export function parseSizeArg(value: string): string {
  try {
    parseSize(value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
  return value
}

export function parseRegexArg(value: string): RegExp {
  try {
    return new RegExp(value)
  } catch (err) {
    throw new InvalidArgumentError(`not a valid regular expression (${(err as Error).message})`)
  }
}

/** "30d" (that long ago) or an ISO date/time such as 2025-11-01 or 2025-11-01T12:00:00Z. */
export function parseTimeArg(value: string): TimeBound {
  try {
    const ms = parseDuration(value)
    return { text: value, at: (now) => now - ms }
  } catch {}
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const t = Date.parse(value.trim())
    if (Number.isFinite(t)) return { text: value, at: () => t }
  }
  throw new InvalidArgumentError('expected a duration (30m, 72h, 30d) or an ISO date (2025-11-01, 2025-11-01T12:00:00Z)')
}

function collect(value: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), value]
}

/** Adds --reason, --id, --since, --older-than and --limit to a command. */
export function addFilterOptions(cmd: Command, limitHelp: string): Command {
  return cmd
    .addOption(new Option('--reason <regex>', 'only entries whose reason matches this regular expression').argParser(parseRegexArg))
    .addOption(new Option('--id <id>', 'only the entry with this id (repeatable)').argParser(collect))
    .addOption(new Option('--since <when>', 'only entries recorded at or after this time: a duration ago (24h, 7d) or an ISO date').argParser(parseTimeArg))
    .addOption(new Option('--older-than <age>', 'only entries recorded before this time: a duration ago (30d) or an ISO date').argParser(parseTimeArg))
    .addOption(new Option('--limit <n>', limitHelp).argParser(parseIntArg(1)))
}

export function filterFlags(opts: Record<string, unknown>): FilterFlags {
  const f: FilterFlags = {}
  if (opts.reason instanceof RegExp) f.reason = opts.reason
  if (Array.isArray(opts.id)) f.id = opts.id as string[]
  if (opts.since) f.since = opts.since as TimeBound
  if (opts.olderThan) f.olderThan = opts.olderThan as TimeBound
  if (typeof opts.limit === 'number') f.limit = opts.limit
  return f
}

export function hasFilters(f: FilterFlags): boolean {
  return f.reason !== undefined || f.id !== undefined || f.since !== undefined || f.olderThan !== undefined
}

export function describeFilters(f: FilterFlags): string {
  const parts: string[] = []
  if (f.reason) parts.push(`reason ~ /${f.reason.source}/`)
  if (f.id) parts.push(`id in [${f.id.join(', ')}]`)
  if (f.since) parts.push(`since ${f.since.text}`)
  if (f.olderThan) parts.push(`older than ${f.olderThan.text}`)
  return parts.length > 0 ? parts.join(', ') : 'all entries'
}

/** What a filter looks at: envelopes and quarantine records alike. */
export interface Filterable {
  ts: number
  reason: string | null
  id?: string
}

export type Matcher = (rec: Filterable) => boolean

export function makeMatcher(f: FilterFlags, now: number): Matcher {
  const since = f.since?.at(now)
  const before = f.olderThan?.at(now)
  const ids = f.id ? new Set(f.id) : undefined
  const re = f.reason
  return (rec) => {
    if (since !== undefined && !(rec.ts >= since)) return false
    if (before !== undefined && !(rec.ts < before)) return false
    if (ids && (rec.id === undefined || !ids.has(rec.id))) return false
    if (re) {
      re.lastIndex = 0
      if (!re.test(rec.reason ?? '')) return false
    }
    return true
  }
}

/** Quarantine records have no id: asking for one is a mistake, not an empty result. */
export function usageCheckCorrupt(f: FilterFlags): void {
  if (f.id !== undefined) throw usageError('--id does not apply to the corrupt log (its records have no id); use --reason to match the parse error')
}
