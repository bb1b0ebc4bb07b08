/**
 * `requeue(log)`: move permanent-log entries back to the retry log, e.g. once the bug that
 * made them fail is fixed; the object `dletter requeue --json` prints. Crash-safe through
 * the journaled rewrite (src/store/rewrite-permanent.ts): an entry is never in neither log
 * and, once a run (or the next replay, requeue or purge) completes, in exactly one. Holds
 * the replay lock, so it never runs alongside a replay of the same log.
 */
import { type Envelope, type EnvelopeHeader, encodeHeader, encodeTrailer, rawPayloadOf } from '../format/envelope.js'
import { replayDefaults } from '../base/options.js'
import type { LogPaths } from '../store/segments.js'
import type { ByteSink } from '../format/sink.js'
import { withMaintenance } from '../store/maintenance-session.js'
import { copyTrace } from '../base/trace-context.js'
import type { RewriteHooks } from '../store/rewrite-permanent.js'
import { countPermanent } from './dry-run.js'
import { FILTER_KEYS, resolveFilter } from './filters.js'
import { type PermanentRewriteRun, rewriteSelected } from './permanent-rewrite.js'
import { bool, checkOptions, fn, timer } from '../base/checks.js'
import { resolveLogPath } from '../store/log-path.js'
import { common, commonChecks } from './options.js'
import type { RequeueOptions, RequeueSummary } from './types.js'

const checks = { ...commonChecks, resetAttempts: bool, dryRun: bool, onProgress: fn, sealTimeout: timer }

export interface RequeueRun extends PermanentRewriteRun {
  resetAttempts: boolean
}

export function resolveRequeue(options: RequeueOptions | undefined): RequeueRun {
  const o = checkOptions('requeue', options, checks, FILTER_KEYS)
  return {
    ...common(o),
    filter: resolveFilter((options ?? {}) as RequeueOptions, 'permanent', Date.now()),
    resetAttempts: o.resetAttempts ?? false,
    dryRun: o.dryRun ?? false,
    sealTimeout: o.sealTimeout ?? replayDefaults.sealTimeout,
    onProgress: o.onProgress as RequeueRun['onProgress'],
  }
}

export async function requeue(logPath: string, options?: RequeueOptions): Promise<RequeueSummary> {
  const run = resolveRequeue(options)
  const paths = await resolveLogPath('requeue', logPath)
  return runRequeue(paths, run)
}

/** Rewrites an entry as a fresh first failure (attempt 1, no dueTs, no final), payload bytes unchanged. */
export function writeReset(sink: ByteSink, env: Envelope, line: string): void {
  const h: EnvelopeHeader = { ts: env.ts, attempt: 1, reason: env.reason, firstTs: env.firstTs ?? env.ts }
  if (env.errorName !== undefined) h.errorName = env.errorName
  if (env.errorCode !== undefined) h.errorCode = env.errorCode
  copyTrace(h, env)
  encodeHeader(sink, env.ts, 1, env.reason, env.id, h)
  sink.utf8(rawPayloadOf(line, env))
  encodeTrailer(sink)
}

/** The requeue itself on resolved input; `hooks` let the crash tests die at chosen points. */
export async function runRequeue(paths: LogPaths, run: RequeueRun, hooks?: RewriteHooks): Promise<RequeueSummary> {
  const summary: RequeueSummary = {
    log: paths.active,
    dryRun: run.dryRun,
    filters: run.filter.text,
    resetAttempts: run.resetAttempts,
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
  if (run.dryRun) {
    const c = await countPermanent(paths, run)
    return { ...summary, moved: c.matched, kept: c.kept, segments: c.segments, limited: c.limited, aborted: run.signal?.aborted ?? false }
  }
  const maintenance = { sealPermanent: true, sealTimeout: run.sealTimeout, signal: run.signal, operation: 'requeue' }
  const res = await withMaintenance(paths, maintenance, async (session) => {
    summary.recovered = session.recovered
    summary.warnings.push(...session.warnings)
    return rewriteSelected(paths, 'requeue', run, summary, hooks, run.resetAttempts ? writeReset : undefined)
  })
  summary.moved = res.selected
  summary.skipped = res.skipped
  return summary
}
