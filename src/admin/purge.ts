/**
 * `purge(log, { kind: 'permanent' | 'corrupt' })`: delete entries for good (e.g. past a
 * retention period). Same discipline as requeue: the replay lock, recovery first, a
 * journaled rewrite-then-delete of each permanent segment, an atomic rename for the corrupt
 * log. Kept entries are never at risk. The retry log is never purged: its items leave
 * through replay.
 */
import { DeadLetterError } from '../base/errors.js'
import type { LocalOptions, PurgeOptions, PurgeResult } from '../format/model.js'
import type { LogPaths } from '../store/segments.js'
import { rewriteCorrupt } from '../store/rewrite-corrupt.js'
import type { RewriteHooks } from '../store/rewrite-permanent.js'
import { FILTER_KEYS, recordFields } from './filters.js'
import { type ChangeRun, type LocalChange, RESULT_REASONS, changeChecks, changeRun, inSession, newResult, rewriteSelected } from './permanent-rewrite.js'
import { ChangeTracker, openAudit } from './audit.js'
import { auditRun } from '../format/edit.js'
import { checkOptions } from '../base/checks.js'
import { changeKind } from '../format/filter.js'
import { resolveLogPath } from '../store/log-path.js'
import { ReasonCounter } from '../format/reasons.js'

const checks = { ...changeChecks, kind: changeKind('purge') }

export interface PurgeRun extends ChangeRun {
  kind: 'permanent' | 'corrupt'
}

export function resolvePurge(options: (PurgeOptions & LocalOptions) | undefined): PurgeRun {
  const o = checkOptions('purge', options, checks, FILTER_KEYS)
  if (o.kind === undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', "dlq: purge() needs option `kind`: 'permanent' or 'corrupt' (the retry log is never purged)")
  }
  return { ...changeRun(options, o, o.kind), kind: o.kind }
}

export async function purge(logPath: string, options: PurgeOptions & LocalOptions): Promise<PurgeResult> {
  const run = resolvePurge(options)
  const paths = await resolveLogPath('purge', logPath)
  return runPurge(paths, run)
}

/** The purge itself on resolved input; `hooks` let the crash tests die at chosen points. */
export async function runPurge(paths: LogPaths, run: PurgeRun, hooks?: RewriteHooks): Promise<PurgeResult> {
  const result = newResult(run.kind, paths, run)
  await inSession(paths, run, 'purge', run.kind === 'permanent', result, async () => {
    if (run.kind === 'corrupt') return purgeCorrupt(paths, run, result)
    if (!run.dryRun) await openAudit(paths)
    await rewriteSelected(paths, 'purge', run, result, hooks, new ChangeTracker(auditRun('purge', run, result.filter, undefined), run))
  })
  return result
}

async function purgeCorrupt(paths: LogPaths, run: PurgeRun, result: LocalChange<PurgeResult>): Promise<void> {
  const reasons = new ReasonCounter()
  const res = await rewriteCorrupt(paths, {
    select: (rec) => {
      const hit = run.filter.match(recordFields(rec))
      if (hit) reasons.add(rec.error, rec.ts)
      return hit
    },
    limit: run.filter.limit,
    maxRecordSize: run.maxRecordSize,
    signal: run.signal,
    countOnly: run.dryRun,
  })
  Object.assign(result.backend, { kept: res.kept, segments: 1, rewritten: res.selected > 0 && !run.dryRun ? 1 : 0 })
  result.count = res.selected
  // Nothing selected counts when the rewrite was abandoned (aborted): the file is as it was.
  result.reasons = res.selected > 0 ? reasons.top(RESULT_REASONS) : []
  result.stopped = res.aborted ? 'abort' : run.filter.limit !== undefined && res.selected >= run.filter.limit ? 'limit' : null
}
