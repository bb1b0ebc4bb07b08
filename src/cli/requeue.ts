/**
 * `dletter requeue <log>`: move permanent-log entries back to the retry log, e.g. after the
 * bug that made them fail is fixed. Crash-safe through the journaled rewrite in rewrite.ts:
 * an entry is never in neither log and, once a run (or the next one) completes, in exactly
 * one. Holds the replay lock, so it never runs alongside a replay of the same log.
 */
import { type Command, Option } from 'commander'
import { type EnvelopeHeader, encodeHeader, encodeTrailer, rawPayloadOf } from '../envelope.js'
import { FileLock } from '../lock.js'
import { sealLog } from '../maintenance.js'
import { replayDefaults } from '../options.js'
import type { LogPaths } from '../segments.js'
import type { ByteSink } from '../sink.js'
import { type CommonFlags, action, addCommonOptions, resolveLog, runRewrite } from './common.js'
import { type FilterFlags, addFilterOptions, describeFilters, filterFlags, makeMatcher, type Matcher } from './filters.js'
import { EXIT, EXIT_CODES_HELP, guardStdoutPipe, note, warn } from './output.js'
import { Progress } from './progress.js'
import { type RewriteHooks, type RewriteResult, recoverRewrite, rewritePermanent, trimOwnSegments } from './rewrite.js'
import { familyFiles, scanFiles } from './scan.js'

interface RequeueFlags extends CommonFlags {
  resetAttempts?: boolean
  dryRun?: boolean
}

export function registerRequeue(program: Command): void {
  const cmd = program
    .command('requeue')
    .summary('move permanent-log entries back to the retry log')
    .description(
      'Move entries of the permanent log that match the filters (all of them without filters) back to the retry log, so the next replay gives them to the handler again. Takes the replay lock (exit 2 while a replay runs) and asks a live writer to seal its active permanent file. Crash-safe: an interrupted run is rolled back or finished by the next replay, requeue or purge command, so no entry is ever lost or left in both logs.\n\nWithout --reset-attempts entries keep their attempt count: those that used up their attempts go straight back to the permanent log on the next replay unless it runs with a higher --max-attempts. Items that expired by --ttl expire again unless replay runs with a longer --ttl (the first-failure time is kept).',
    )
    .argument('<log>', 'path of the log file, as given to Logger.open')
  addFilterOptions(cmd, 'move at most this many entries')
  cmd
    .addOption(new Option('--reset-attempts', 'start moved entries over: attempt 1, no due time, no `final` mark'))
    .addOption(new Option('--dry-run', 'only count what would move; change nothing (see the entries with `inspect --permanent` and the same filters)'))
  addCommonOptions(cmd, { json: 'print the summary as one JSON object on stdout', progress: true })
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter requeue ./dlq/orders.log --reason 'ECONNREFUSED' --reset-attempts
  $ dletter requeue ./dlq/orders.log --since 2025-11-20 --dry-run
  $ dletter requeue ./dlq/orders.log --id ord-42 --reset-attempts && dletter replay ./dlq/orders.log --handler ./handler.js

${EXIT_CODES_HELP}`,
  )
  cmd.action(action((log: string, flags: RequeueFlags) => run(log, flags)))
}

export interface RequeueSummary {
  log: string
  dryRun: boolean
  filters: string
  resetAttempts: boolean
  /** Entries moved to the retry log (in a dry run: that would move). */
  moved: number
  /** Entries read and left in the permanent log. */
  kept: number
  segments: number
  rewritten: number
  skipped: Array<{ segment: string; reason: string }>
  aborted: boolean
  limited: boolean
  recovered: string | null
  warnings: string[]
}

/** Rewrites an entry as a fresh first failure (attempt 1, no dueTs, no final), payload bytes unchanged. */
export function writeReset(sink: ByteSink, env: import('../envelope.js').Envelope, line: string): void {
  const h: EnvelopeHeader = { ts: env.ts, attempt: 1, reason: env.reason, firstTs: env.firstTs ?? env.ts }
  if (env.errorName !== undefined) h.errorName = env.errorName
  if (env.errorCode !== undefined) h.errorCode = env.errorCode
  encodeHeader(sink, env.ts, 1, env.reason, env.id, h)
  sink.utf8(rawPayloadOf(line, env))
  encodeTrailer(sink)
}

export interface RequeueRun {
  paths: LogPaths
  filters: FilterFlags
  resetAttempts: boolean
  signal?: AbortSignal
  progress?: Progress
  hooks?: RewriteHooks
}

/** The requeue itself, without argument parsing or output (the crash test drives it directly). */
export async function requeue(r: RequeueRun): Promise<RequeueSummary> {
  const { paths, filters } = r
  const summary: RequeueSummary = {
    log: paths.active,
    dryRun: false,
    filters: describeFilters(filters),
    resetAttempts: r.resetAttempts,
    moved: 0,
    kept: 0,
    segments: 0,
    rewritten: 0,
    skipped: [],
    aborted: false,
    limited: false,
    recovered: null,
    warnings: [],
  }
  const match = makeMatcher(filters, Date.now())
  const lock = await FileLock.acquire(paths.replayLock, 'replay', replayDefaults.mode, 'requeue')
  let res: RewriteResult
  try {
    summary.recovered = (await recoverRewrite(paths)) ?? null
    await trimOwnSegments(paths)
    const seal = await sealLog(paths, { permanent: true, timeout: replayDefaults.sealTimeout, signal: r.signal })
    if (seal.by === 'timeout') {
      summary.warnings.push('the live writer did not answer the seal request; entries in its active permanent file are not included')
    } else if (seal.error) {
      summary.warnings.push(`the live writer could not seal its active files: ${seal.error}`)
    }
    res = await rewritePermanent({
      paths,
      op: 'requeue',
      select: match,
      transform: r.resetAttempts ? writeReset : undefined,
      limit: filters.limit,
      signal: r.signal,
      hooks: r.hooks,
      onProgress: (done, total, items) => r.progress?.update({ done, total, items }),
    })
  } finally {
    await lock.release()
  }
  summary.moved = res.selected
  summary.kept = res.kept
  summary.segments = res.segments
  summary.rewritten = res.rewritten
  summary.skipped = res.skipped
  summary.aborted = res.aborted
  summary.limited = res.limited
  for (const s of res.skipped) summary.warnings.push(`${s.segment} left unchanged: it ${s.reason}`)
  return summary
}

/** Read-only count over the permanent log (sealed and active), no lock taken. */
export async function countMatches(paths: LogPaths, match: Matcher, limit: number | undefined): Promise<{ matched: number; total: number; segments: number; limited: boolean }> {
  const files = await familyFiles(paths.permanent, { checkpoints: false })
  let matched = 0
  let total = 0
  let limited = false
  const max = limit ?? Infinity
  await scanFiles(files, {
    onItem: (it) => {
      if (it.kind !== 'record') return
      total++
      if (matched < max && match(it.env)) matched++
      else if (matched >= max && match(it.env)) limited = true
    },
  })
  return { matched, total, segments: files.length, limited }
}

async function run(logArg: string, flags: RequeueFlags): Promise<number> {
  guardStdoutPipe()
  const filters = filterFlags(flags as Record<string, unknown>)
  const log = await resolveLog(logArg, { quiet: flags.json })
  let summary: RequeueSummary
  if (flags.dryRun) {
    const c = await countMatches(log.paths, makeMatcher(filters, Date.now()), filters.limit)
    summary = {
      log: log.paths.active,
      dryRun: true,
      filters: describeFilters(filters),
      resetAttempts: flags.resetAttempts === true,
      moved: c.matched,
      kept: c.total - c.matched,
      segments: c.segments,
      rewritten: 0,
      skipped: [],
      aborted: false,
      limited: c.limited,
      recovered: null,
      warnings: [],
    }
  } else {
    summary = await runRewrite('requeue', !flags.json && flags.progress !== false, (signal, progress) =>
      requeue({ paths: log.paths, filters, resetAttempts: flags.resetAttempts === true, signal, progress }),
    )
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(summary) + '\n')
    return EXIT.OK
  }
  if (summary.recovered) note(summary.recovered)
  for (const w of summary.warnings) warn(w)
  const s = summary
  if (s.dryRun) {
    process.stdout.write(
      `dry run: would move ${s.moved} entr${s.moved === 1 ? 'y' : 'ies'} (${s.filters}${s.limited ? `, first ${s.moved} by --limit` : ''}) ` +
        `from the permanent log to the retry log; ${s.kept} would stay. Nothing was changed.\n` +
        `  list them: dletter inspect ${logArg} --permanent${filterArgs(flags as unknown as Record<string, unknown>)}\n`,
    )
    return EXIT.OK
  }
  process.stdout.write(
    `requeued ${s.moved} entr${s.moved === 1 ? 'y' : 'ies'} (${s.filters}) from the permanent log to the retry log` +
      `${s.resetAttempts ? ', attempts reset to 1' : ''}; ${s.rewritten} of ${s.segments} segment(s) rewritten, ${s.kept} left in the permanent log` +
      `${s.aborted ? ' (aborted)' : s.limited ? ' (stopped at --limit)' : ''}\n`,
  )
  if (s.moved > 0 && !s.resetAttempts) {
    process.stdout.write(
      '  note: without --reset-attempts, entries that used all their attempts go back to the permanent log\n' +
        '  on the next replay unless it runs with a higher --max-attempts\n',
    )
  }
  return EXIT.OK
}

function filterArgs(flags: Record<string, unknown>): string {
  const out: string[] = []
  if (flags.reason instanceof RegExp) out.push(`--reason '${flags.reason.source}'`)
  if (Array.isArray(flags.id)) for (const id of flags.id) out.push(`--id '${id}'`)
  if (flags.since) out.push(`--since '${(flags.since as { text: string }).text}'`)
  if (flags.olderThan) out.push(`--older-than '${(flags.olderThan as { text: string }).text}'`)
  return out.length > 0 ? ' ' + out.join(' ') : ''
}
