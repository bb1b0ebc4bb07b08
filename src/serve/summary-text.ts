/**
 * The one-line result of a requeue or purge, worded as the CLI prints it, so a person who
 * acted from the page and one who ran the command read the same sentence.
 */
import type { LocalChangeBackend, PurgeResult, RequeueResult } from '../format/model.js'

const n = (k: number) => `${k} entr${k === 1 ? 'y' : 'ies'}`

const stopped = (s: { stopped: string | null }) => (s.stopped === 'abort' ? ' (aborted)' : s.stopped === 'limit' ? ' (stopped at limit)' : '')

export function requeueText(s: RequeueResult): string {
  const b = s.backend as LocalChangeBackend
  if (s.dryRun) {
    return `dry run: would move ${n(s.count)} (${s.filter}${s.stopped === 'limit' ? `, first ${s.count} by limit` : ''}) from the permanent log to the retry log; ${b.kept} would stay${held(s)}. Nothing was changed.`
  }
  return (
    `requeued ${n(s.count)} (${s.filter}) from the permanent log to the retry log` +
    `${s.resetAttempts ? ', attempts reset to 1' : ''}; ${b.rewritten} of ${b.segments} segment(s) rewritten, ${b.kept} left in the permanent log${held(s)}` +
    stopped(s)
  )
}

/** The loop guard's part: entries at maxRedrives stay unless forced. */
export function held(s: Pick<RequeueResult, 'heldBack' | 'maxRedrives'>): string {
  return s.heldBack > 0 ? ` (${n(s.heldBack)} held back: already requeued ${s.maxRedrives} times, the maxRedrives limit)` : ''
}

export function purgeText(s: PurgeResult): string {
  const b = s.backend as LocalChangeBackend
  if (s.dryRun) return `dry run: would remove ${n(s.count)} (${s.filter}) from the ${s.kind} log; ${b.kept} would stay. Nothing was changed.`
  return (
    `removed ${n(s.count)} (${s.filter}) from the ${s.kind} log; ${b.kept} kept` +
    `${s.kind === 'permanent' ? `, ${b.rewritten} of ${b.segments} segment(s) rewritten` : ''}` +
    stopped(s)
  )
}
