/**
 * `requeue(log)`: move permanent-log entries back to the retry log, e.g. once the bug that
 * made them fail is fixed. Crash-safe through the journaled rewrite
 * (src/store/rewrite-permanent.ts): an entry is never in neither log and, once a run (or the
 * next replay, requeue or purge) completes, in exactly one. Holds the replay lock, so it never
 * runs alongside a replay of the same log.
 */
import { DeadLetterError } from '../base/errors.js'
import { type Envelope, type EnvelopeHeader, encodeHeader, encodeTrailer, rawPayloadOf } from '../format/envelope.js'
import type { LocalOptions, RequeueOptions, RequeueResult } from '../format/model.js'
import { replayDefaults } from '../base/options.js'
import type { LogPaths } from '../store/segments.js'
import type { ByteSink } from '../format/sink.js'
import { withMaintenance } from '../store/maintenance-session.js'
import { copyTrace } from '../base/trace-context.js'
import type { RewriteHooks } from '../store/rewrite-permanent.js'
import { countMatching } from './dry-run.js'
import { FILTER_KEYS, resolveFilter } from './filters.js'
import { type ChangeRun, type LocalChange, countedResult, newResult, rewriteSelected } from './permanent-rewrite.js'
import { bool, checkOptions, fn, timer } from '../base/checks.js'
import { changeKind } from '../format/filter.js'
import { resolveLogPath } from '../store/log-path.js'
import { common, commonChecks } from './options.js'

const checks = { ...commonChecks, kind: changeKind('requeue'), resetAttempts: bool, dryRun: bool, onProgress: fn, sealTimeout: timer }

export interface RequeueRun extends ChangeRun {
  resetAttempts: boolean
}

export function resolveRequeue(options: (RequeueOptions & LocalOptions) | undefined): RequeueRun {
  const o = checkOptions('requeue', options, checks, FILTER_KEYS)
  if (o.kind === 'retry') {
    throw new DeadLetterError(
      'DLQ_INVALID_OPTION',
      "dlq: requeue() of a local log takes `kind: 'permanent'` only: its retry entries are the replay's (making deferred entries due now is the central store's `kind: 'retry'`)",
    )
  }
  return {
    ...common(o),
    filter: resolveFilter(options, 'permanent', Date.now()),
    resetAttempts: o.resetAttempts ?? false,
    dryRun: o.dryRun ?? false,
    sealTimeout: o.sealTimeout ?? replayDefaults.sealTimeout,
    onProgress: o.onProgress as RequeueRun['onProgress'],
  }
}

export async function requeue(logPath: string, options?: RequeueOptions & LocalOptions): Promise<RequeueResult> {
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
export async function runRequeue(paths: LogPaths, run: RequeueRun, hooks?: RewriteHooks): Promise<RequeueResult> {
  const result: LocalChange<RequeueResult> = { ...newResult('permanent', paths, run), resetAttempts: run.resetAttempts }
  if (run.dryRun) return countedResult(result, await countMatching(paths, 'permanent', run), run)
  const maintenance = { sealPermanent: true, sealTimeout: run.sealTimeout, signal: run.signal, operation: 'requeue' }
  await withMaintenance(paths, maintenance, async (session) => {
    result.backend.recovered = session.recovered
    result.warnings.push(...session.warnings)
    await rewriteSelected(paths, 'requeue', run, result, hooks, run.resetAttempts ? writeReset : undefined)
  })
  return result
}
