/**
 * The one-line result of a requeue or purge, worded as the CLI prints it, so a person who
 * acted from the page and one who ran the command read the same sentence.
 */
import type { PurgeSummary, RequeueSummary } from '../admin/types.js'

const n = (k: number) => `${k} entr${k === 1 ? 'y' : 'ies'}`

export function requeueText(s: RequeueSummary): string {
  if (s.dryRun) {
    return `dry run: would move ${n(s.moved)} (${s.filters}${s.limited ? `, first ${s.moved} by limit` : ''}) from the permanent log to the retry log; ${s.kept} would stay. Nothing was changed.`
  }
  return (
    `requeued ${n(s.moved)} (${s.filters}) from the permanent log to the retry log` +
    `${s.resetAttempts ? ', attempts reset to 1' : ''}; ${s.rewritten} of ${s.segments} segment(s) rewritten, ${s.kept} left in the permanent log` +
    `${s.aborted ? ' (aborted)' : s.limited ? ' (stopped at limit)' : ''}`
  )
}

export function purgeText(s: PurgeSummary): string {
  if (s.dryRun) return `dry run: would remove ${n(s.removed)} (${s.filters}) from the ${s.target} log; ${s.kept} would stay. Nothing was changed.`
  return (
    `removed ${n(s.removed)} (${s.filters}) from the ${s.target} log; ${s.kept} kept` +
    `${s.target === 'permanent' ? `, ${s.rewritten} of ${s.segments} segment(s) rewritten` : ''}` +
    `${s.aborted ? ' (aborted)' : s.limited ? ' (stopped at limit)' : ''}`
  )
}
