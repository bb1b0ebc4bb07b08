/**
 * `dletter purge <log> --permanent|--corrupt --yes`: delete entries for good (e.g. older than
 * a retention period). Same discipline as requeue: the replay lock, a journaled
 * rewrite-then-delete of each permanent segment, an atomic rename for the corrupt log.
 * Kept entries are never at risk; an interrupted purge is finished or rolled back by the
 * next replay, requeue or purge command.
 */
import { type Command, Option } from 'commander'
import { FileLock } from '../lock.js'
import { sealLog } from '../maintenance.js'
import { replayDefaults } from '../options.js'
import type { LogPaths } from '../segments.js'
import { type CommonFlags, action, addCommonOptions, resolveLog, runRewrite } from './common.js'
import { type FilterFlags, addFilterOptions, describeFilters, filterFlags, hasFilters, makeMatcher, usageCheckCorrupt } from './filters.js'
import { EXIT, EXIT_CODES_HELP, guardStdoutPipe, note, usageError, warn } from './output.js'
import { Progress } from './progress.js'
import { countMatches } from './requeue.js'
import { type RewriteHooks, recoverRewrite, rewriteCorrupt, rewritePermanent, trimOwnSegments } from './rewrite.js'
import { regularFile, scanFiles } from './scan.js'

interface PurgeFlags extends CommonFlags {
  permanent?: boolean
  corrupt?: boolean
  yes?: boolean
  dryRun?: boolean
}

export function registerPurge(program: Command): void {
  const cmd = program
    .command('purge')
    .summary('delete entries of the permanent log or the corrupt quarantine for good')
    .description(
      'Delete the entries of the permanent log (--permanent) or of the corrupt quarantine (--corrupt) that match the filters, all of them without filters. Refuses to run without --yes. Takes the replay lock (exit 2 while a replay runs). The retry log is never purged: its items leave through replay (or expire with replay --ttl).',
    )
    .argument('<log>', 'path of the log file, as given to Logger.open')
    .addOption(new Option('--permanent', 'purge the permanent log').conflicts('corrupt'))
    .addOption(new Option('--corrupt', 'purge the corrupt quarantine (--reason matches the parse error)'))
  addFilterOptions(cmd, 'remove at most this many entries')
  cmd
    .addOption(new Option('--yes', 'confirm: matching entries are deleted and cannot be recovered'))
    .addOption(new Option('--dry-run', 'only count what would be removed; change nothing (no --yes needed)'))
  addCommonOptions(cmd, { json: 'print the summary as one JSON object on stdout', progress: true })
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter purge ./dlq/orders.log --permanent --older-than 30d --dry-run
  $ dletter purge ./dlq/orders.log --permanent --older-than 30d --yes
  $ dletter purge ./dlq/orders.log --permanent --reason '^invalid order' --yes
  $ dletter purge ./dlq/orders.log --corrupt --yes

${EXIT_CODES_HELP}`,
  )
  cmd.action(action((log: string, flags: PurgeFlags) => run(log, flags)))
}

export interface PurgeSummary {
  log: string
  target: 'permanent' | 'corrupt'
  dryRun: boolean
  filters: string
  /** Entries deleted (in a dry run: that would be). */
  removed: number
  kept: number
  segments: number
  rewritten: number
  aborted: boolean
  limited: boolean
  recovered: string | null
  warnings: string[]
}

export interface PurgeRun {
  paths: LogPaths
  target: 'permanent' | 'corrupt'
  filters: FilterFlags
  signal?: AbortSignal
  progress?: Progress
  hooks?: RewriteHooks
}

export async function purge(r: PurgeRun): Promise<PurgeSummary> {
  const { paths, filters } = r
  const summary = emptySummary(paths, r.target, false, filters)
  const match = makeMatcher(filters, Date.now())
  const lock = await FileLock.acquire(paths.replayLock, 'replay', replayDefaults.mode, 'purge')
  try {
    summary.recovered = (await recoverRewrite(paths)) ?? null
    await trimOwnSegments(paths)
    if (r.target === 'corrupt') {
      const res = await rewriteCorrupt(paths, match, filters.limit)
      summary.removed = res.selected
      summary.kept = res.kept
      summary.segments = 1
      summary.rewritten = res.selected > 0 ? 1 : 0
      summary.limited = filters.limit !== undefined && res.selected >= filters.limit
    } else {
      const seal = await sealLog(paths, { permanent: true, timeout: replayDefaults.sealTimeout, signal: r.signal })
      if (seal.by === 'timeout') {
        summary.warnings.push('the live writer did not answer the seal request; entries in its active permanent file are not included')
      } else if (seal.error) {
        summary.warnings.push(`the live writer could not seal its active files: ${seal.error}`)
      }
      const res = await rewritePermanent({
        paths,
        op: 'purge',
        select: match,
        limit: filters.limit,
        signal: r.signal,
        hooks: r.hooks,
        onProgress: (done, total, items) => r.progress?.update({ done, total, items }),
      })
      summary.removed = res.selected
      summary.kept = res.kept
      summary.segments = res.segments
      summary.rewritten = res.rewritten
      summary.aborted = res.aborted
      summary.limited = res.limited
      for (const s of res.skipped) summary.warnings.push(`${s.segment} left unchanged: it ${s.reason}`)
    }
  } finally {
    await lock.release()
  }
  return summary
}

function emptySummary(paths: LogPaths, target: 'permanent' | 'corrupt', dryRun: boolean, filters: FilterFlags): PurgeSummary {
  return {
    log: paths.active,
    target,
    dryRun,
    filters: describeFilters(filters),
    removed: 0,
    kept: 0,
    segments: 0,
    rewritten: 0,
    aborted: false,
    limited: false,
    recovered: null,
    warnings: [],
  }
}

async function run(logArg: string, flags: PurgeFlags): Promise<number> {
  guardStdoutPipe()
  if (!flags.permanent && !flags.corrupt) throw usageError('purge needs --permanent or --corrupt (the retry log is never purged)')
  const target = flags.permanent ? 'permanent' : 'corrupt'
  const filters = filterFlags(flags as Record<string, unknown>)
  if (target === 'corrupt') usageCheckCorrupt(filters)
  if (!flags.yes && !flags.dryRun) {
    const what = hasFilters(filters) ? `the ${target}-log entries matching ${describeFilters(filters)}` : `every entry of the ${target} log`
    throw usageError(`refusing to purge without --yes: this deletes ${what} for good (use --dry-run to see how many)`)
  }
  const log = await resolveLog(logArg, { quiet: flags.json })
  let summary: PurgeSummary
  if (flags.dryRun) {
    summary = emptySummary(log.paths, target, true, filters)
    const match = makeMatcher(filters, Date.now())
    if (target === 'permanent') {
      const c = await countMatches(log.paths, match, filters.limit)
      summary.removed = c.matched
      summary.kept = c.total - c.matched
      summary.segments = c.segments
      summary.limited = c.limited
    } else {
      const st = await regularFile(log.paths.corrupt)
      const max = filters.limit ?? Infinity
      if (st) {
        await scanFiles([{ path: log.paths.corrupt, gz: false, size: st.size, active: true, start: 0, mtimeMs: st.mtimeMs }], {
          envelopes: false,
          onItem: (it) => {
            if (it.kind !== 'line') return
            let rec: { ts?: unknown; error?: unknown } | undefined
            try {
              rec = JSON.parse(it.line) as typeof rec
            } catch {}
            const hit = !!rec && match({ ts: Number(rec.ts), reason: typeof rec.error === 'string' ? rec.error : null })
            if (hit && summary.removed < max) summary.removed++
            else summary.kept++
          },
        })
        summary.segments = 1
      }
    }
  } else {
    summary = await runRewrite('purge', !flags.json && flags.progress !== false, (signal, progress) =>
      purge({ paths: log.paths, target, filters, signal, progress }),
    )
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(summary) + '\n')
    return EXIT.OK
  }
  if (summary.recovered) note(summary.recovered)
  for (const w of summary.warnings) warn(w)
  const s = summary
  const n = (k: number) => `${k} entr${k === 1 ? 'y' : 'ies'}`
  if (s.dryRun) {
    process.stdout.write(`dry run: would remove ${n(s.removed)} (${s.filters}) from the ${target} log; ${s.kept} would stay. Nothing was changed.\n`)
  } else {
    process.stdout.write(
      `removed ${n(s.removed)} (${s.filters}) from the ${target} log; ${s.kept} kept` +
        `${target === 'permanent' ? `, ${s.rewritten} of ${s.segments} segment(s) rewritten` : ''}` +
        `${s.aborted ? ' (aborted)' : s.limited ? ' (stopped at --limit)' : ''}\n`,
    )
  }
  return EXIT.OK
}
