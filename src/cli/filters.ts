/**
 * The record filters shared by inspect, requeue and purge, so `inspect` with the same flags
 * previews exactly what `requeue` or `purge` will touch.
 */
import { type Command, InvalidArgumentError, Option } from 'commander'
import { parseTimeText } from '../format/filter.js'
import type { EntryFilter } from '../format/model.js'
import { type Check, duration, int, recordSize, timer } from '../base/checks.js'
import { replayDefaults } from '../base/options.js'
import { given } from './common.js'
import { formatBytes, usageError } from './output.js'

/** What the filter flags set: the library's own filter fields. */
export type FilterFlags = Pick<EntryFilter, 'reason' | 'id' | 'since' | 'olderThan' | 'limit'>

/**
 * A flag held to the library's check for the option it sets, so `--ttl 72h` and
 * `{ ttl: '72h' }` meet one rule and one message ("must be …"; commander names the flag).
 */
function flag<T>(check: Check<T>, value: unknown): T {
  try {
    return check('', value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^dlq: option `` /, ''))
  }
}

export function parseIntArg(min: number, max?: number): (value: string) => number {
  return (value) => flag(int(min, max), /^\s*\d+\s*$/.test(value) ? Number(value) : value)
}

/** Kept as text: the library parses it again, so both report the same value. */
const textFlag =
  (check: Check<unknown>) =>
  (value: string): string => (flag(check, value), value)

export const parseDurationArg = textFlag(duration)
/** A duration that drives a timer: at most 2^31−1 ms, as the option. */
export const parseTimerArg = textFlag(timer)
export const parseRecordSizeArg = textFlag(recordSize)

export function parseRegexArg(value: string): RegExp {
  try {
    return new RegExp(value)
  } catch (err) {
    throw new InvalidArgumentError(`not a valid regular expression (${(err as Error).message})`)
  }
}

/** "30d" (that long ago) or an ISO date/time such as 2025-11-01 or 2025-11-01T12:00:00Z. */
export function parseTimeArg(value: string): string {
  // Checked here for a usage error naming the flag; kept as text, which the library parses again.
  if (parseTimeText(value, Date.now()) !== undefined) return value
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

/** The library filter the flags stand for. */
export function filterFlags(flags: FilterFlags): FilterFlags {
  return given(flags, ['reason', 'id', 'since', 'olderThan', 'limit'])
}

/** Quarantine records have no id: asking for one is a mistake, not an empty result. */
export function usageCheckCorrupt(f: EntryFilter): void {
  if (f.id !== undefined) throw usageError('--id does not apply to the corrupt log (its records have no id); use --reason to match the parse error')
}

/** The --max-record-size flag of the commands that read a log's records. */
export function maxRecordSizeOption(): Option {
  return new Option('--max-record-size <size>', `longest line read whole; set it to the writer's maxRecordSize if you raised that (default: ${formatBytes(replayDefaults.maxRecordSize)})`).argParser(parseRecordSizeArg)
}
