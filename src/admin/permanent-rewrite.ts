/**
 * What requeue and purge share: the resolved run, the result they fill in (the shape the
 * central store's requeue and purge return too), the dry-run count, and the journaled rewrite
 * of the permanent log (src/store/rewrite-permanent.ts). They differ only in what a selected
 * entry becomes (moved or dropped).
 */
import { ListenerGuard } from '../base/listener-guard.js'
import type { ByteSink } from '../format/sink.js'
import type { Envelope } from '../format/envelope.js'
import type { AuditSummary, ChangeResult, Kind, LocalChangeBackend, Progress } from '../format/model.js'
import type { LogPaths } from '../store/segments.js'
import path from 'node:path'
import { type EntryAt, type RewriteHooks, type RewriteResult, rewritePermanent } from '../store/rewrite-permanent.js'
import { type ResolvedFilter, envelopeFields, resolveFilter } from './filters.js'
import { type ChangeTracker, auditFileOf } from './audit.js'
import { type Common, common, commonChecks } from './options.js'
import { auditChecks } from '../format/edit.js'
import { bool, fn, timer } from '../base/checks.js'
import { replayDefaults } from '../base/options.js'
import { ReasonCounter } from '../format/reasons.js'
import { withMaintenance } from '../store/maintenance-session.js'

/** Reason groups listed in a requeue or purge result. */
export const RESULT_REASONS = 10

/** Options requeue and purge both take, besides the filter and their own. */
export const changeChecks = { ...commonChecks, ...auditChecks, dryRun: bool, onProgress: fn, sealTimeout: timer }

/** A resolved requeue or purge run: what both take besides their own options. */
export interface ChangeRun extends Common {
  filter: ResolvedFilter
  dryRun: boolean
  sealTimeout: number
  onProgress?: (p: Progress) => void
  why: string | undefined
  actor: string | undefined
}

/** The run from the options `changeChecks` checked; `options` as given, for the filter. */
export function changeRun(options: object | undefined, o: { [K in keyof typeof changeChecks]?: ReturnType<(typeof changeChecks)[K]> }, kind: 'permanent' | 'corrupt'): ChangeRun {
  return {
    ...common(o),
    filter: resolveFilter(options, kind, Date.now()),
    dryRun: o.dryRun ?? false,
    sealTimeout: o.sealTimeout ?? replayDefaults.sealTimeout,
    onProgress: o.onProgress as ChangeRun['onProgress'],
    why: o.why,
    actor: o.actor,
  }
}

/** A result to fill in, with its backend part typed as the local one. */
export type LocalChange<R extends ChangeResult> = R & { backend: LocalChangeBackend }

export function newResult<K extends Kind>(kind: K, paths: LogPaths, run: ChangeRun): LocalChange<ChangeResult<K>> {
  return {
    kind,
    dryRun: run.dryRun,
    filter: run.filter.text,
    count: 0,
    reasons: [],
    stopped: null,
    warnings: [],
    backend: { type: 'local', path: paths.active, kept: 0, segments: 0, rewritten: 0, skipped: [], recovered: null },
  }
}

/**
 * Runs `fn` on the log as a real run must see it: holding the replay lock, recovered, and
 * (`sealPermanent`) with every permanent record in a sealed segment. A dry run takes no lock
 * and writes nothing: `fn` runs as it is.
 */
export async function inSession(paths: LogPaths, run: ChangeRun, operation: string, sealPermanent: boolean, result: LocalChange<ChangeResult>, fn: () => Promise<void>): Promise<void> {
  if (run.dryRun) return fn()
  await withMaintenance(paths, { sealPermanent, sealTimeout: run.sealTimeout, signal: run.signal, operation }, async (session) => {
    result.backend.recovered = session.recovered
    result.warnings.push(...session.warnings)
    await fn()
  })
}

export async function rewriteSelected(
  paths: LogPaths,
  op: 'requeue' | 'purge',
  run: ChangeRun,
  result: LocalChange<ChangeResult> & { audit?: AuditSummary },
  hooks: RewriteHooks | undefined,
  tracker: ChangeTracker,
  transform?: (sink: ByteSink, env: Envelope, line: string, at: EntryAt) => void,
  /** requeue's loop guard: a matching entry this holds back stays, counted in `held`. */
  holdBack?: (env: Envelope) => boolean,
): Promise<RewriteResult> {
  // A progress callback that throws must not stop the rewrite halfway: it becomes a warning.
  const guard = new ListenerGuard((message) => result.warnings.push(message))
  const reasons = new SelectedReasons()
  const res = await rewritePermanent({
    paths,
    op,
    // Held back by the loop guard before the transform sees it: a held entry is never repaired.
    select: (env, line, at) => !holdBack?.(env) && tracker.select(env, line, at) && reasons.selected(env),
    held: holdBack && ((env, line) => holdBack(env) && run.filter.match(envelopeFields(env, line))),
    transform,
    sideLog: run.dryRun ? undefined : tracker.sideLog(auditFileOf(paths)),
    countOnly: run.dryRun,
    limit: run.filter.limit,
    maxRecordSize: run.maxRecordSize,
    signal: run.signal,
    hooks: {
      phase: (phase, info) => {
        if (phase === 'journal-moving') tracker.begin(info.source)
        reasons.phase(phase)
        hooks?.phase?.(phase, info)
      },
    },
    onProgress: (done, total, items) => guard.call('onProgress', run.onProgress, { done, total, items }),
  })
  guard.flush()
  tracker.finish()
  if (!run.dryRun) result.audit = { where: path.join(paths.dir, auditFileOf(paths)), records: tracker.records, run: tracker.run.run }
  Object.assign(result.backend, { kept: res.kept, segments: res.segments, rewritten: res.rewritten, skipped: res.skipped })
  result.count = res.selected
  // A count commits nothing: what it selected is what a run would move.
  result.reasons = (run.dryRun ? reasons.pending : reasons.committed).top(RESULT_REASONS)
  result.stopped = res.aborted ? 'abort' : res.limited ? 'limit' : null
  for (const s of res.skipped) result.warnings.push(`${s.segment} left unchanged: it ${s.reason}`)
  return res
}

/**
 * The reasons of the entries a rewrite really moved or dropped. The rewrite asks `select`
 * twice per segment (a read-only look for any selected entry, then the copy) and may roll a
 * segment back, so its phases tell which answers count: those of the copy that began at
 * 'journal-moving' (the look ends before it), once that copy reached 'committed'.
 */
class SelectedReasons {
  readonly committed = new ReasonCounter()
  pending = new ReasonCounter()

  selected(env: Envelope): true {
    this.pending.add(env.reason, env.ts)
    return true
  }

  phase(phase: string): void {
    if (phase === 'committed') this.committed.merge(this.pending)
    if (phase === 'journal-moving' || phase === 'committed') this.pending = new ReasonCounter()
  }
}
