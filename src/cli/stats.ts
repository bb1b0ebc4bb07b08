/**
 * `dletter stats <log>`: what is waiting, how old it is and why it failed. Strictly
 * read-only: sealed segments (from their checkpoints: the prefix before is accounted for),
 * the active files as they are (a partial last line is a record being written, skipped),
 * no locks taken, nothing renamed.
 */
import path from 'node:path'
import type { Command } from 'commander'
import { stats } from '../admin/stats.js'
import type { LogStats, ReasonGroup } from '../admin/types.js'
import { type CommonFlags, action, addCommonOptions, resolveLog } from './common.js'
import { type DbFlags, addDbOptions, centralTarget, dbStats } from './db.js'
import { maxRecordSizeOption, parseIntArg } from './filters.js'
import { EXIT, EXIT_CODES_HELP, formatBytes, formatDuration, formatTime, guardStdoutPipe, padStart, preview, terminalSafe, warn } from './output.js'
import { Progress } from './progress.js'

interface StatsFlags extends CommonFlags {
  top: number
  maxRecordSize?: string
  fast?: boolean
}

export function registerStats(program: Command): void {
  const cmd = program
    .command('stats')
    .summary('what is waiting in a log, how old it is and why it failed (read-only)')
    .description(
      'Summarize a log without changing anything: segments and bytes, pending retry items (due now or deferred by their backoff), an attempts histogram, the oldest and newest failure, the permanent and corrupt counts, and the most frequent failure reasons with numbers, uuids and hex ids normalized ("timeout after 3012ms" and "timeout after 2981ms" count as one). Safe next to a live writer and a running replay (counts are then a snapshot).',
    )
    .argument('[log]', 'path of the log file, as given to Logger.open (or --db for the central store)')
    .option('--top <n>', 'how many reasons to list per log', parseIntArg(1), 10)
    .addOption(maxRecordSizeOption())
    .option('--fast', 'counts only, from segment metadata instead of reading every entry (no reasons or attempts); may write .meta cache files')
  addCommonOptions(cmd, { json: 'print the statistics as one JSON object on stdout', progress: true })
  addDbOptions(cmd)
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter stats /var/lib/app/dlq/orders.log
  $ dletter stats ./dlq/orders.log --json | jq .retry.pending

${EXIT_CODES_HELP}`,
  )
  cmd.action(action(run))
}

async function run(logArg: string | undefined, flags: StatsFlags & DbFlags): Promise<number> {
  const db = centralTarget(logArg, flags)
  if (db !== undefined) return dbStats(db, flags)
  guardStdoutPipe()
  const log = await resolveLog(logArg!, { quiet: flags.json })
  const progress = new Progress('stats', !flags.json && flags.progress !== false)
  let s: LogStats
  try {
    s = await stats(log.paths.active, { top: flags.top, maxRecordSize: flags.maxRecordSize, fast: flags.fast === true, onProgress: (p) => progress.update(p) })
  } finally {
    progress.stop()
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(s) + '\n')
    return EXIT.OK
  }
  for (const e of s.readErrors) warn(`could not read all of ${path.basename(e.file)}: ${e.error}`)
  process.stdout.write(formatStats(s))
  return EXIT.OK
}

function ago(ts: number | null, now: number): string {
  if (ts === null) return '-'
  return `${formatTime(ts)} (${formatDuration(now - ts)} ago)`
}

function histogram(h: Record<string, number>): string[] {
  const entries = Object.entries(h)
  if (entries.length === 0) return []
  const max = Math.max(...entries.map(([, v]) => v))
  const w = Math.max(...entries.map(([k]) => k.length))
  const cw = Math.max(...entries.map(([, v]) => String(v).length))
  return entries.map(([k, v]) => `    attempt ${k.padStart(w)}  ${String(v).padStart(cw)}  ${'#'.repeat(Math.max(1, Math.round((v / max) * 40)))}`)
}

function reasonTable(title: string, groups: ReasonGroup[], width: number): string {
  if (groups.length === 0) return ''
  const cw = Math.max(5, ...groups.map((g) => String(g.count).length))
  let out = `\n${title}\n  ${'count'.padStart(cw)}  ${'first seen'.padEnd(20)}  ${'last seen'.padEnd(20)}  reason\n`
  for (const g of groups) {
    const left = `  ${padStart(g.count, cw)}  ${formatTime(g.firstSeen).padEnd(20)}  ${formatTime(g.lastSeen).padEnd(20)}  `
    out += left + preview(g.reason, Math.max(20, width - left.length)) + '\n'
  }
  return out
}

function formatStats(s: LogStats): string {
  const width = process.stdout.columns ?? 120
  const r = s.retry
  const p = s.permanent
  const proc = (x: { running: boolean; pid: number | null }) => (x.running ? `running (pid ${x.pid ?? '?'})` : 'not running')
  const segs = (n: number, activeBytes: number) => `${n} sealed segment(s)${activeBytes > 0 ? ' + active file' : ''}`
  // Reasons go through preview(), which is terminal-safe; so must every other stored string.
  const op = s.replay.operation
  const replay = s.replay.running && op !== null && op !== 'replay' ? `not running (a ${terminalSafe(op)} holds the replay lock, pid ${s.replay.pid ?? '?'})` : proc(s.replay)
  let out = `log ${terminalSafe(s.log)}\n  writer: ${proc(s.writer)}; replay: ${replay}\n`
  out += `\nretry log: ${segs(r.sealedSegments, r.activeBytes)}, ${formatBytes(r.bytes)}${r.checkpointed > 0 ? ` (${r.checkpointed} partly replayed)` : ''}\n`
  out += `  pending         ${r.pending} item(s): ${r.dueNow} due now, ${r.deferred} deferred`
  out += r.nextDueTs !== null ? ` (next due in ${formatDuration(r.nextDueTs - s.at)})\n` : '\n'
  if (r.pending > 0) {
    out += `  attempts\n${histogram(r.attempts).join('\n')}\n`
    out += `  oldest failure  ${ago(r.oldestFailureTs, s.at)}\n`
    out += `  newest failure  ${ago(r.newestFailureTs, s.at)}\n`
  }
  if (r.unparseable > 0) out += `  unparseable     ${r.unparseable} line(s); the next replay quarantines them to the corrupt log\n`
  if (r.partialTail) out += `  (the active file ends in a record being written; not counted)\n`
  const finals = Object.entries(p.byFinal)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  out += `\npermanent log: ${segs(p.sealedSegments, p.activeBytes)}, ${formatBytes(p.bytes)}\n`
  out += `  entries         ${p.entries}${finals ? ` (${finals})` : ''}\n`
  if (p.entries > 0) out += `  oldest / newest ${formatTime(p.oldestTs ?? undefined)} / ${formatTime(p.newestTs ?? undefined)}\n`
  if (p.unparseable > 0) out += `  unparseable     ${p.unparseable} line(s)\n`
  out += `\ncorrupt log: ${s.corrupt.records} record(s), ${formatBytes(s.corrupt.bytes)}`
  out += s.corrupt.filesSetAside > 0 ? `; ${s.corrupt.filesSetAside} unreadable compressed segment(s) set aside\n` : '\n'
  if (s.interruptedRewrite) {
    const w = s.interruptedRewrite
    out += terminalSafe(`\nan interrupted ${w.op} of ${w.source} (${w.state}) is settled by the next replay, requeue or purge\n`)
  }
  out += reasonTable('top reasons, retry log', r.reasons, width)
  out += reasonTable('top reasons, permanent log', p.reasons, width)
  return out
}
