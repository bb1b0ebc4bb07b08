/**
 * A requeue or purge result in one sentence, local or central, dry or not: the CLI prints it
 * and the inspector's pages show it, so a person who acted from a page and one who ran the
 * command read the same words. Stored text (the filter) is left as is: a terminal caller
 * makes it safe.
 */
import type { PurgeResult, RequeueResult } from './model.js'

const entries = (k: number) => `${k} entr${k === 1 ? 'y' : 'ies'}`

export function changeText(r: RequeueResult | PurgeResult): string {
  const b = r.backend
  const central = b.type === 'postgres'
  const where = central ? ' of the central store' : ''
  const requeue = 'resetAttempts' in r
  const move =
    r.kind === 'retry' ? 'from deferred to due now' : requeue ? `from the permanent log to the retry log` : `from the ${r.kind} log`
  const filter = `(${r.filter}${r.dryRun && r.stopped === 'limit' ? `, first ${r.count} by limit` : ''})`
  const left = b.type === 'local' ? `; ${b.kept} ${r.dryRun ? 'would stay' : requeue ? 'left in the ' + r.kind + ' log' : 'kept'}` : ''
  const held = b.type === 'postgres' && b.leased > 0 ? `; ${b.leased} held by a replay worker left alone` : ''
  if (r.dryRun) return `dry run: would ${requeue ? 'move' : 'remove'} ${entries(r.count)}${where} ${filter} ${move}${left}${held}. Nothing was changed.`
  const segments = b.type === 'local' && r.kind === 'permanent' ? `, ${b.rewritten} of ${b.segments} segment(s) rewritten` : ''
  const stopped = r.stopped === 'abort' ? ' (aborted)' : r.stopped === 'limit' ? ' (stopped at limit)' : ''
  const reset = requeue && r.resetAttempts ? ', attempts reset to 1' : ''
  return `${requeue ? 'requeued' : 'removed'} ${entries(r.count)}${where} ${filter} ${move}${reset}${left}${segments}${held}${stopped}`
}
