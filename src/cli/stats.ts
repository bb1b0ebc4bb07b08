/**
 * `dletter stats <log>`: what is waiting, how old it is and why it failed. Strictly
 * read-only: sealed segments (from their checkpoints: the prefix before is accounted for),
 * the active files as they are (a partial last line is a record being written, skipped),
 * no locks taken, nothing renamed.
 */
import { type Command, Option } from 'commander'
import type { ReasonGroup, Stats } from '../index.js'
import { withBackend } from './backend.js'
import { type CommonFlags, action, addCommonOptions } from './common.js'
import { type DbFlags, addDbOptions } from './db.js'
import { maxRecordSizeOption, parseIntArg } from './filters.js'
import { EXIT, EXIT_CODES_HELP, formatBytes, formatDuration, formatTime, preview, terminalSafe, warnReadErrors } from './output.js'
import { Progress } from './progress.js'

interface StatsFlags extends CommonFlags {
  top: number
  maxRecordSize?: string
  fast?: boolean
  groupBy: 'first' | 'last'
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
    .addOption(new Option('--group-by <reason>', 'group reasons by the last reason entries failed with, or by the first (what put them in the log)').choices(['last', 'first']).default('last'))
    .addOption(maxRecordSizeOption())
    .option('--fast', 'counts only, from segment metadata instead of reading every entry (no reasons or attempts); may write .meta cache files')
  addCommonOptions(cmd, { json: 'print the statistics as one JSON object on stdout', progress: true })
  addDbOptions(cmd)
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter stats /var/lib/app/dlq/orders.log
  $ dletter stats ./dlq/orders.log --json | jq .retry.count

${EXIT_CODES_HELP}`,
  )
  cmd.action(action(run))
}

async function run(logArg: string | undefined, flags: StatsFlags & DbFlags): Promise<number> {
  const s = await withBackend(logArg, flags, async (b) => {
    const progress = new Progress('stats', !flags.json && flags.progress !== false)
    try {
      return { ...b.tag, ...(await b.stats({ top: flags.top, groupBy: flags.groupBy, fast: flags.fast === true, onProgress: (p) => progress.update(p) })) }
    } finally {
      progress.stop()
    }
  })
  if (flags.json) {
    process.stdout.write(JSON.stringify(s) + '\n')
    return EXIT.OK
  }
  if (s.backend.type === 'local') warnReadErrors(s.backend.readErrors)
  process.stdout.write(formatStats(s, flags.host))
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
  const hosts = groups[0].hosts !== undefined
  let out = `\n${title}\n  ${'count'.padStart(cw)}  ${'first seen'.padEnd(20)}  ${'last seen'.padEnd(20)}  ${hosts ? 'hosts  ' : ''}reason\n`
  for (const g of groups) {
    const left = `  ${String(g.count).padStart(cw)}  ${formatTime(g.oldestTs).padEnd(20)}  ${formatTime(g.newestTs).padEnd(20)}  ${hosts ? String(g.hosts ?? 0).padStart(5) + '  ' : ''}`
    out += left + preview(g.fingerprint, Math.max(20, width - left.length)) + '\n'
  }
  return out
}

/** One report for both backends: a local log adds its files and processes, the central store its hosts. */
function formatStats(s: Stats & { store?: string }, host: string | undefined): string {
  const width = process.stdout.columns ?? 120
  const r = s.retry
  const p = s.permanent
  const b = s.backend.type === 'local' ? s.backend : undefined
  const proc = (x: { running: boolean; pid: number | null }) => (x.running ? `running (pid ${x.pid ?? '?'})` : 'not running')
  const segs = (n: number, activeBytes: number, bytes: number) => (b ? ` ${n} sealed segment(s)${activeBytes > 0 ? ' + active file' : ''}, ${formatBytes(bytes)}` : '')
  let out: string
  if (b) {
    // Reasons go through preview(), which is terminal-safe; so must every other stored string.
    const op = b.replay.operation
    const replay = b.replay.running && op !== null && op !== 'replay' ? `not running (a ${terminalSafe(op)} holds the replay lock, pid ${b.replay.pid ?? '?'})` : proc(b.replay)
    out = `log ${terminalSafe(b.path)}\n  writer: ${proc(b.writer)}; replay: ${replay}\n`
  } else out = `central store ${s.store ?? ''}${host !== undefined ? ` (host ${terminalSafe(host)})` : ''}\n`
  out += `\nretry log:${b ? segs(b.retry.sealedSegments, b.retry.activeBytes, b.retry.bytes) : ''}${b && b.retry.checkpointed > 0 ? ` (${b.retry.checkpointed} partly replayed)` : ''}\n`
  out += `  pending         ${r.count} item(s): ${r.due} due now, ${r.deferred} deferred`
  out += r.nextDueTs !== null ? ` (next due in ${formatDuration(r.nextDueTs - s.at)})\n` : '\n'
  if (r.count > 0) {
    const h = histogram(r.attempts)
    if (h.length > 0) out += `  attempts\n${h.join('\n')}\n`
    out += `  oldest failure  ${ago(r.oldestTs, s.at)}\n`
    out += `  newest failure  ${ago(r.newestTs, s.at)}\n`
  }
  if (b && b.retry.unparseable > 0) out += `  unparseable     ${b.retry.unparseable} line(s); the next replay quarantines them to the corrupt log\n`
  if (b?.retry.partialTail) out += `  (the active file ends in a record being written; not counted)\n`
  const finals = Object.entries(p.byFinal)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  out += `\npermanent log:${b ? segs(b.permanent.sealedSegments, b.permanent.activeBytes, b.permanent.bytes) : ''}\n`
  out += `  entries         ${p.count}${finals ? ` (${finals})` : ''}\n`
  if (p.count > 0) out += `  oldest / newest ${formatTime(p.oldestTs ?? undefined)} / ${formatTime(p.newestTs ?? undefined)}\n`
  if (b && b.permanent.unparseable > 0) out += `  unparseable     ${b.permanent.unparseable} line(s)\n`
  out += `\ncorrupt log: ${s.corrupt.count} record(s)${b ? `, ${formatBytes(b.corrupt.bytes)}` : ''}`
  out += b && b.corrupt.filesSetAside > 0 ? `; ${b.corrupt.filesSetAside} unreadable compressed segment(s) set aside\n` : '\n'
  if (b?.interruptedRewrite) {
    const w = b.interruptedRewrite
    out += terminalSafe(`\nan interrupted ${w.op} of ${w.source} (${w.state}) is settled by the next replay, requeue or purge\n`)
  }
  if (s.hosts !== undefined && s.hosts.length > 0) {
    const hw = Math.max(4, ...s.hosts.map((h) => terminalSafe(h.host).length))
    out += `\nby host\n  ${'host'.padEnd(hw)}  ${'retry'.padStart(8)}  ${'due'.padStart(8)}  ${'permanent'.padStart(9)}  ${'corrupt'.padStart(8)}  oldest failure\n`
    for (const h of s.hosts) {
      out += `  ${terminalSafe(h.host).padEnd(hw)}  ${String(h.retry).padStart(8)}  ${String(h.due).padStart(8)}  ${String(h.permanent).padStart(9)}  ${String(h.corrupt).padStart(8)}  ${ago(h.oldestTs, s.at)}\n`
    }
  }
  out += reasonTable('top reasons, retry log', r.reasons, width)
  out += reasonTable('top reasons, permanent log', p.reasons, width)
  out += reasonTable('top reasons, corrupt log', s.corrupt.reasons, width)
  return out
}
