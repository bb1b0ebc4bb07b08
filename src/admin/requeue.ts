/**
 * `requeue(log)`: move permanent-log entries back to the retry log, e.g. once the bug that
 * made them fail is fixed. Crash-safe through the journaled rewrite
 * (src/store/rewrite-permanent.ts): an entry is never in neither log and, once a run (or the
 * next replay, requeue or purge) completes, in exactly one. Holds the replay lock, so it never
 * runs alongside a replay of the same log.
 */
import { DeadLetterError } from '../base/errors.js'
import { type EditOf, type Envelope, type EnvelopeHeader, rawPayloadOf } from '../format/envelope.js'
import { writeRecord } from '../format/fit.js'
import type { LocalOptions, RequeueOptions, RequeueResult, Transform } from '../format/model.js'
import { auditRun, editChecks, loadTransform, requireWhy } from '../format/edit.js'
import { ChangeTracker, openAudit } from './audit.js'
import { loggerDefaults, redriveChecks, redriveDefaults } from '../base/options.js'
import type { LogPaths } from '../store/segments.js'
import type { ByteSink } from '../format/sink.js'
import { copyTrace } from '../base/trace-context.js'
import { type Origin, copyLineage, leaving, redrivesOf } from '../format/lineage.js'
import type { EntryAt, RewriteHooks } from '../store/rewrite-permanent.js'
import { FILTER_KEYS } from './filters.js'
import { type ChangeRun, type LocalChange, changeChecks, changeRun, inSession, newResult, rewriteSelected } from './permanent-rewrite.js'
import { bool, checkOptions, hostName } from '../base/checks.js'
import { changeKind } from '../format/filter.js'
import { realLogName, resolveLogPath } from '../store/log-path.js'

const checks = { ...changeChecks, ...redriveChecks, ...editChecks, kind: changeKind('requeue'), resetAttempts: bool, originHost: hostName }

export interface RequeueRun extends ChangeRun {
  resetAttempts: boolean
  /** Entries with this many redrives stay (the loop guard); Infinity with `force`. */
  maxRedrives: number
  transform: Transform | string | undefined
  /** This host's name, in the origin a repaired entry takes along. */
  host: string
}

export function resolveRequeue(options: (RequeueOptions & LocalOptions) | undefined): RequeueRun {
  const o = checkOptions('requeue', options, checks, FILTER_KEYS)
  if (o.kind === 'retry') {
    throw new DeadLetterError(
      'DLQ_INVALID_OPTION',
      "dlq: requeue() of a local log takes `kind: 'permanent'` only: its retry entries are the replay's (making deferred entries due now is the central store's `kind: 'retry'`)",
    )
  }
  requireWhy('requeue', o)
  return {
    ...changeRun(options, o, 'permanent'),
    resetAttempts: o.resetAttempts ?? false,
    maxRedrives: (o.force ?? redriveDefaults.force) ? Infinity : (o.maxRedrives ?? redriveDefaults.maxRedrives),
    transform: o.transform,
    host: o.originHost ?? loggerDefaults.host,
  }
}

export async function requeue(logPath: string, options?: RequeueOptions & LocalOptions): Promise<RequeueResult> {
  const run = resolveRequeue(options)
  const paths = await resolveLogPath('requeue', logPath)
  return runRequeue(paths, run)
}

/**
 * Writes a requeued entry to the retry log: as it was, one more redrive counted, its lineage
 * and payload bytes unchanged; with `reset`, as a fresh first failure (attempt 1, no dueTs, no
 * final) that keeps its lineage. A repair (`edit`) is always a reset, with the new payload,
 * `editOf` and its origin written down (a new record: the entry left the line it was). Within
 * `maxRecordSize` by shrinking the lineage when it grew past it (src/format/fit.ts).
 */
export function writeRequeued(
  sink: ByteSink,
  env: Envelope,
  line: string,
  reset: boolean,
  maxRecordSize: number,
  edit?: { payload: string; editOf: EditOf; origin: Origin },
): void {
  const h: EnvelopeHeader = { ts: env.ts, attempt: reset ? 1 : env.attempt, reason: env.reason }
  if (reset || env.firstTs !== undefined) h.firstTs = env.firstTs ?? env.ts
  if (!reset && env.dueTs !== undefined) h.dueTs = env.dueTs
  if (env.errorName !== undefined) h.errorName = env.errorName
  if (env.errorCode !== undefined) h.errorCode = env.errorCode
  if (!reset && env.final !== undefined) h.final = env.final
  copyLineage(h, env)
  h.redrives = redrivesOf(env) + 1
  copyTrace(h, env)
  if (edit) {
    leaving(h, edit.origin)
    h.editOf = edit.editOf
  }
  writeRecord(sink, h, env.id, edit ? edit.payload : rawPayloadOf(line, env), maxRecordSize)
}

/** The requeue itself on resolved input; `hooks` let the crash tests die at chosen points. */
export async function runRequeue(paths: LogPaths, run: RequeueRun, hooks?: RewriteHooks): Promise<RequeueResult> {
  const result: LocalChange<RequeueResult> = {
    ...newResult('permanent', paths, run),
    resetAttempts: run.resetAttempts,
    maxRedrives: Number.isFinite(run.maxRedrives) ? run.maxRedrives : null,
    heldBack: 0,
  }
  const atLimit = (env: Envelope) => redrivesOf(env) >= run.maxRedrives
  const t = run.transform === undefined ? undefined : await loadTransform(run.transform, 'requeue')
  // A repair always starts the entry over, as --reset-attempts does.
  if (t) result.resetAttempts = true
  await inSession(paths, run, 'requeue', true, result, async () => {
    if (!run.dryRun) await openAudit(paths)
    const origin: Origin = { host: run.host, log: await realLogName(paths) }
    const repair = t && { t, write: (sink: ByteSink, env: Envelope, line: string, edit: { payload: string; editOf: EditOf }) => writeRequeued(sink, env, line, true, run.maxRecordSize, { ...edit, origin }) }
    const tracker = new ChangeTracker(auditRun('requeue', run, result.filter, t), run, repair)
    const write = t ? (sink: ByteSink, _env: Envelope, _line: string, at: EntryAt) => tracker.write(sink, at) : (sink: ByteSink, env: Envelope, line: string) => writeRequeued(sink, env, line, run.resetAttempts, run.maxRecordSize)
    const res = await rewriteSelected(paths, 'requeue', run, result, hooks, tracker, write, atLimit)
    result.heldBack = res.held
    if (tracker.tally) result.transform = tracker.tally.done()
  })
  return result
}
