/**
 * `dletter inspect <log>`: list entries of the retry log (pending items, from each segment's
 * checkpoint on), the permanent log or the corrupt quarantine, oldest first. Read-only and
 * streaming: `--json` (the default when stdout is not a terminal) prints each stored line
 * unchanged, so output can be piped to jq or kept as a record.
 */
import path from 'node:path'
import { type Command, Option } from 'commander'
import type { Envelope } from '../envelope.js'
import { type CommonFlags, action, addCommonOptions, resolveLog } from './common.js'
import { type Filterable, addFilterOptions, filterFlags, makeMatcher, usageCheckCorrupt } from './filters.js'
import { EXIT, EXIT_CODES_HELP, formatTime, guardStdoutPipe, preview, terminalSafe, warn, writeOut } from './output.js'
import { type ScanFile, familyFiles, regularFile, scanFiles } from './scan.js'

interface InspectFlags extends CommonFlags {
  permanent?: boolean
  corrupt?: boolean
  human?: boolean
}

export function registerInspect(program: Command): void {
  const cmd = program
    .command('inspect')
    .summary('list entries of the retry, permanent or corrupt log (read-only)')
    .description(
      'List entries, oldest first: pending items of the retry log (default), the permanent log (--permanent) or the corrupt quarantine (--corrupt). One readable line per entry on a terminal (time, attempt, id, reason, payload preview); JSON Lines (each stored line as is) with --json or when stdout is not a terminal. Filters combine with AND.',
    )
    .argument('<log>', 'path of the log file, as given to Logger.open')
    .addOption(new Option('--permanent', 'list the permanent log').conflicts('corrupt'))
    .addOption(new Option('--corrupt', 'list the corrupt quarantine (--reason matches the parse error)'))
  addFilterOptions(cmd, 'list at most this many entries')
  cmd.addOption(new Option('--human', 'one readable line per entry even when stdout is not a terminal').conflicts('json'))
  addCommonOptions(cmd, { json: 'JSON Lines: each matching stored line, unchanged (the default when stdout is not a terminal)' })
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

async function run(logArg: string, flags: InspectFlags): Promise<number> {
  guardStdoutPipe()
  const filters = filterFlags(flags as Record<string, unknown>)
  if (flags.corrupt) usageCheckCorrupt(filters)
  const log = await resolveLog(logArg, { quiet: flags.json })
  const human = flags.human === true || (!flags.json && process.stdout.isTTY === true)
  const width = Math.max(60, process.stdout.columns ?? 160)
  const match = makeMatcher(filters, Date.now())
  const limit = filters.limit ?? Infinity

  let files: ScanFile[]
  if (flags.corrupt) {
    const st = await regularFile(log.paths.corrupt)
    files = st ? [{ path: log.paths.corrupt, gz: false, size: st.size, active: true, start: 0, mtimeMs: st.mtimeMs }] : []
  } else {
    files = await familyFiles(flags.permanent ? log.paths.permanent : log.paths.retry, { checkpoints: !flags.permanent })
  }

  let shown = 0
  let unparseable = 0
  let reachedLimit = false
  const res = await scanFiles(files, {
    envelopes: !flags.corrupt,
    onItem: (it) => {
      if (shown >= limit) {
        reachedLimit = true
        return false
      }
      if (it.kind === 'unparseable') {
        unparseable++
        return
      }
      if (it.kind === 'line') {
        let rec: CorruptRecord
        try {
          rec = JSON.parse(it.line) as CorruptRecord
        } catch {
          unparseable++
          return
        }
        if (!match({ ts: Number(rec.ts), reason: typeof rec.error === 'string' ? rec.error : null })) return
        shown++
        return writeOut(human ? corruptLine(rec, width) : it.line + '\n')
      }
      if (it.kind === 'record') {
        if (!match(it.env as Filterable)) return
        shown++
        return writeOut(human ? envelopeLine(it.env, width) : it.line + '\n')
      }
    },
  })
  for (const e of res.errors) warn(`could not read all of ${path.basename(e.file)}: ${e.error}`)
  if (human) {
    const which = flags.corrupt ? 'corrupt log' : flags.permanent ? 'permanent log' : 'retry log (pending items)'
    let foot = `-- ${shown} entr${shown === 1 ? 'y' : 'ies'} of the ${which}`
    if (reachedLimit) foot += `; stopped at --limit ${filters.limit}`
    if (unparseable > 0) foot += `; ${unparseable} unparseable line(s) skipped`
    await writeOut(foot + '\n')
  } else if (unparseable > 0 && !flags.json) {
    warn(`${unparseable} unparseable line(s) skipped`)
  }
  return EXIT.OK
}

interface CorruptRecord {
  ts: number
  segment?: string
  offset?: number
  length?: number
  error?: string
  raw?: string
  rawEncoding?: string
}

function envelopeLine(env: Envelope, width: number): string {
  // Stored text may hold terminal control sequences: every field goes through terminalSafe/preview.
  const final = env.final ? ` ${terminalSafe(env.final).padEnd(9)}` : ''
  const left = `${formatTime(env.ts)}  ${`#${env.attempt}`.padEnd(3)}${final}  ${terminalSafe(env.id ?? '-').padEnd(10)}  `
  // Reason and payload share what is left of the line; on a narrow terminal both shrink.
  const room = Math.max(24, width - left.length)
  const reasonMax = Math.min(48, Math.floor(room / 2))
  const reason = preview(env.reason ?? '(no reason)', reasonMax)
  const head = `${left}${reason.padEnd(Math.min(reasonMax, Math.max(reason.length, 24)))}  `
  const payload = preview(JSON.stringify(env.payload) ?? 'undefined', Math.max(12, width - head.length))
  return head + payload + '\n'
}

function corruptLine(rec: CorruptRecord, width: number): string {
  const where = rec.segment !== undefined ? terminalSafe(`${rec.segment}@${rec.offset ?? '?'}`) : '-'
  const head = `${formatTime(rec.ts)}  ${where}  ${preview(rec.error ?? '(no error)', 60)}  `
  const raw = rec.rawEncoding === 'base64' ? `base64:${rec.raw ?? ''}` : (rec.raw ?? '')
  return head + preview(raw, width - head.length) + '\n'
}
