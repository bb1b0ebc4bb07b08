/**
 * `dletter inspect <log>`: list entries of the retry log (pending items, from each segment's
 * checkpoint on), the permanent log or the corrupt quarantine, oldest first. Read-only and
 * streaming: `--json` (the default when stdout is not a terminal) prints each stored line
 * unchanged, so output can be piped to jq or kept as a record.
 */
import { type Command, Option } from 'commander'
import type { Entry, Kind } from '../index.js'
import { entryJson } from '../format/entry.js'
import { withBackend } from './backend.js'
import { type CommonFlags, action, addCommonOptions } from './common.js'
import { type DbFlags, addDbOptions } from './db.js'
import { type FilterFlags, addFilterOptions, filterFlags, maxRecordSizeOption, usageCheckCorrupt } from './filters.js'
import { EXIT, EXIT_CODES_HELP, formatTime, preview, reasonWithFirst, terminalSafe, warn, warnReadErrors, writeOut } from './output.js'

interface InspectFlags extends CommonFlags, FilterFlags {
  permanent?: boolean
  corrupt?: boolean
  human?: boolean
  maxRecordSize?: string
}

export function registerInspect(program: Command): void {
  const cmd = program
    .command('inspect')
    .summary('list entries of the retry, permanent or corrupt log (read-only)')
    .description(
      'List entries, oldest first: pending items of the retry log (default), the permanent log (--permanent) or the corrupt quarantine (--corrupt). One readable line per entry on a terminal (time, attempt, id, reason, payload preview); JSON Lines (each stored line as is) with --json or when stdout is not a terminal. Filters combine with AND.',
    )
    .argument('[log]', 'path of the log file, as given to Logger.open (or --db for the central store)')
    .addOption(new Option('--permanent', 'list the permanent log').conflicts('corrupt'))
    .addOption(new Option('--corrupt', 'list the corrupt quarantine (--reason matches the parse error)'))
  addFilterOptions(cmd, 'list at most this many entries')
  cmd.addOption(new Option('--human', 'one readable line per entry even when stdout is not a terminal').conflicts('json'))
  cmd.addOption(maxRecordSizeOption())
  addCommonOptions(cmd, { json: 'JSON Lines: each matching stored line, unchanged (the default when stdout is not a terminal)' })
  addDbOptions(cmd)
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter inspect ./dlq/orders.log --limit 20
  $ dletter inspect ./dlq/orders.log --permanent --reason 'card declined' --since 24h
  $ dletter inspect ./dlq/orders.log --permanent --id ord-42 --id ord-43
  $ dletter inspect ./dlq/orders.log --corrupt --json | jq -r .error
  $ dletter inspect ./dlq/orders.log --since 2025-11-01 --older-than 1d --json > pending.jsonl

${EXIT_CODES_HELP}`,
  )
  cmd.action(action(run))
}

async function run(logArg: string | undefined, flags: InspectFlags & DbFlags): Promise<number> {
  const filters = filterFlags(flags)
  if (flags.corrupt) usageCheckCorrupt(filters)
  const human = flags.human === true || (!flags.json && process.stdout.isTTY === true)
  const width = Math.max(60, process.stdout.columns ?? 160)
  const kind: Kind = flags.corrupt ? 'corrupt' : flags.permanent ? 'permanent' : 'retry'
  const res = await withBackend(logArg, flags, async (b) => {
    const listing = b.inspect({ ...filters, kind })
    for await (const e of listing) {
      const pending = writeOut(human ? entryLine(e, width) : jsonLine(e))
      if (pending) await pending
    }
    return listing.summary
  })
  warnReadErrors(res.readErrors)
  if (human) {
    const what = flags.corrupt ? 'corrupt log' : flags.permanent ? 'permanent log' : 'retry log (pending items)'
    let foot = `-- ${res.entries} entr${res.entries === 1 ? 'y' : 'ies'} of the ${what}`
    if (res.stopped === 'limit') foot += `; stopped at --limit ${filters.limit}`
    if (res.unparseable > 0) foot += `; ${res.unparseable} unparseable line(s) skipped`
    await writeOut(foot + '\n')
  } else if (res.unparseable > 0 && !flags.json) {
    warn(`${res.unparseable} unparseable line(s) skipped`)
  }
  return EXIT.OK
}

/**
 * A local entry is its stored line, byte for byte. A central one has no line of its own (its
 * line is re-encoded from columns), so it prints as its fields, which name its host.
 */
function jsonLine(e: Entry): string {
  return (e.host === undefined ? e.line : entryJson(e)) + '\n'
}

function entryLine(e: Entry, width: number): string {
  // Stored text may hold terminal control sequences: every field goes through terminalSafe/preview.
  const host = e.host !== undefined ? `${terminalSafe(e.host)}  ` : ''
  if (e.kind === 'corrupt') {
    const where = e.origin?.segment !== undefined ? terminalSafe(`${e.origin.segment}@${e.origin.offset ?? '?'}`) : '-'
    const head = `${formatTime(e.ts)}  ${host}${where}  ${preview(e.reason ?? '(no error)', 60)}  `
    const raw = e.rawEncoding === 'base64' ? `base64:${e.raw ?? ''}` : (e.raw ?? '')
    return head + preview(raw, width - head.length) + '\n'
  }
  const final = e.final ? ` ${terminalSafe(e.final).padEnd(9)}` : ''
  // Requeued entries say how often (the loop guard counts these).
  const redrives = e.redrives ? ` ↻${e.redrives}` : ''
  const left = `${formatTime(e.ts)}  ${host}${`#${e.attempt}`.padEnd(3)}${final}${redrives}  ${terminalSafe(e.id ?? '-').padEnd(10)}  `
  // Reason and payload share what is left of the line; on a narrow terminal both shrink.
  const room = Math.max(24, width - left.length)
  const reasonMax = Math.min(48, Math.floor(room / 2))
  const reason = preview(reasonWithFirst(e), reasonMax)
  const head = `${left}${reason.padEnd(Math.min(reasonMax, Math.max(reason.length, 24)))}  `
  const payload = preview(JSON.stringify(e.payload) ?? 'undefined', Math.max(12, width - head.length))
  return head + payload + '\n'
}
