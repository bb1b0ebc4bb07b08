/**
 * `purge(log, { log: 'permanent' | 'corrupt' })`: delete entries for good (e.g. past a
 * retention period); the object `dletter purge --json` prints. Same discipline as requeue:
 * the replay lock, recovery first, a journaled rewrite-then-delete of each permanent
 * segment, an atomic rename for the corrupt log. Kept entries are never at risk. The retry
 * log is never purged: its items leave through replay.
 */
import { DeadLetterError } from '../base/errors.js'
import { replayDefaults } from '../base/options.js'
import type { LogPaths } from '../store/segments.js'
import { type MaintenanceSession, withMaintenance } from '../store/maintenance-session.js'
import { rewriteCorrupt } from '../store/rewrite-corrupt.js'
import type { RewriteHooks } from '../store/rewrite-permanent.js'
import { countCorrupt, countPermanent } from './dry-run.js'
import { FILTER_KEYS, resolveFilter } from './filters.js'
import { type PermanentRewriteRun, rewriteSelected } from './permanent-rewrite.js'
import { bool, checkOptions, fn, oneOf, timer } from '../base/checks.js'
import { resolveLogPath } from '../store/log-path.js'
import { common, commonChecks } from './options.js'
import type { PurgeOptions, PurgeSummary } from './types.js'

const checks = { ...commonChecks, log: oneOf('permanent', 'corrupt'), dryRun: bool, onProgress: fn, sealTimeout: timer }

export interface PurgeRun extends PermanentRewriteRun {
  target: 'permanent' | 'corrupt'
}

export function resolvePurge(options: PurgeOptions | undefined): PurgeRun {
  const o = checkOptions('purge', options, checks, FILTER_KEYS)
  if (o.log === undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', "dlq: purge() needs option `log`: 'permanent' or 'corrupt' (the retry log is never purged)")
  }
  return {
    ...common(o),
    target: o.log,
    filter: resolveFilter(options!, o.log, Date.now()),
    dryRun: o.dryRun ?? false,
    sealTimeout: o.sealTimeout ?? replayDefaults.sealTimeout,
    onProgress: o.onProgress as PurgeRun['onProgress'],
  }
}

export async function purge(logPath: string, options: PurgeOptions): Promise<PurgeSummary> {
  const run = resolvePurge(options)
  const paths = await resolveLogPath('purge', logPath)
  return runPurge(paths, run)
}

/** The purge itself on resolved input; `hooks` let the crash tests die at chosen points. */
export async function runPurge(paths: LogPaths, run: PurgeRun, hooks?: RewriteHooks): Promise<PurgeSummary> {
  const summary: PurgeSummary = {
    log: paths.active,
    target: run.target,
    dryRun: run.dryRun,
    filters: run.filter.text,
    removed: 0,
    kept: 0,
    segments: 0,
    rewritten: 0,
    aborted: false,
    limited: false,
    recovered: null,
    warnings: [],
  }
  if (run.dryRun) {
    const c = run.target === 'permanent' ? await countPermanent(paths, run) : await countCorrupt(paths, run)
    return { ...summary, removed: c.matched, kept: c.kept, segments: c.segments, limited: c.limited, aborted: run.signal?.aborted ?? false }
  }
  const maintenance = { sealPermanent: run.target === 'permanent', sealTimeout: run.sealTimeout, signal: run.signal, operation: 'purge' }
  return withMaintenance(paths, maintenance, async (session) => {
    summary.recovered = session.recovered
    summary.warnings.push(...session.warnings)
    if (run.target === 'corrupt') await purgeCorrupt(session, run, summary)
    else await purgePermanent(session, run, summary, hooks)
    return summary
  })
}

async function purgeCorrupt(session: MaintenanceSession, run: PurgeRun, summary: PurgeSummary): Promise<void> {
  const res = await rewriteCorrupt(session.paths, {
    select: (rec) => run.filter.match({ ts: rec.ts, reason: rec.error, payloadText: () => rec.raw ?? '' }),
    limit: run.filter.limit,
    maxRecordSize: run.maxRecordSize,
    signal: run.signal,
  })
  summary.removed = res.selected
  summary.kept = res.kept
  summary.segments = 1
  summary.rewritten = res.selected > 0 ? 1 : 0
  summary.aborted = res.aborted
  summary.limited = run.filter.limit !== undefined && res.selected >= run.filter.limit
}

async function purgePermanent(session: MaintenanceSession, run: PurgeRun, summary: PurgeSummary, hooks: RewriteHooks | undefined): Promise<void> {
  summary.removed = (await rewriteSelected(session.paths, 'purge', run, summary, hooks)).selected
}
