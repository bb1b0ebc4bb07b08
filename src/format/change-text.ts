/**
 * A requeue or purge result in one sentence, local or central, dry or not: the CLI prints it
 * and the inspector's pages show it, so a person who acted from a page and one who ran the
 * command read the same words. Stored text (the filter) is left as is: a terminal caller
 * makes it safe.
 */
import { patchLines } from './edit.js'
import type { PurgeResult, RequeueResult, TransformSummary } from './model.js'

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
  const leased = b.type === 'postgres' && b.leased > 0 ? `; ${b.leased} held by a replay worker left alone` : ''
  // The loop guard: entries at maxRedrives stay unless forced.
  const guard = requeue && r.heldBack > 0 ? `; ${entries(r.heldBack)} held back: already requeued ${r.maxRedrives} times, the maxRedrives limit (force moves them)` : ''
  const held = leased + guard
  if (r.dryRun) return `dry run: would ${requeue ? 'move' : 'remove'} ${entries(r.count)}${where} ${filter} ${move}${left}${held}. Nothing was changed.`
  const segments = b.type === 'local' && r.kind === 'permanent' ? `, ${b.rewritten} of ${b.segments} segment(s) rewritten` : ''
  const stopped = r.stopped === 'abort' ? ' (aborted)' : r.stopped === 'limit' ? ' (stopped at limit)' : ''
  const reset = requeue && r.resetAttempts ? ', attempts reset to 1' : ''
  return `${requeue ? 'requeued' : 'removed'} ${entries(r.count)}${where} ${filter} ${move}${reset}${left}${segments}${held}${stopped}`
}

/**
 * A transform's counts, its failures, and (dry run) the first changes as diffs: what the CLI
 * prints above `changeText` and the inspector's payload editor shows as its preview. `safe`
 * makes each piece of stored text safe for where it goes (a terminal, a page).
 */
export function transformText(t: TransformSummary, dryRun: boolean, safe: (s: string) => string = (s) => s): string {
  const verb = dryRun ? 'would repair' : 'repaired'
  const out = [
    `transform ${safe(t.source.path ?? t.source.name ?? '?')} (sha256 ${t.source.sha256.slice(0, 12)}…): ${verb} ${t.changed}, ` +
      `${t.untouched} left as they were (returned undefined), ${t.failed} kept because the transform failed on them`,
  ]
  for (const f of t.failures) out.push(`  ${String(f.count).padStart(8)}  ${safe(f.reason)}  (e.g. ${f.example.ref})`)
  for (const p of t.preview) {
    out.push(`--- ${p.location.ref}${p.id !== undefined ? ` (id ${safe(p.id)})` : ''}`)
    for (const l of patchLines(p.before, p.patch)) out.push(`  ${safe(l)}`)
  }
  if (dryRun && t.changed > t.preview.length) out.push(`(first ${t.preview.length} of ${t.changed} changes shown)`)
  return out.join('\n') + '\n'
}
