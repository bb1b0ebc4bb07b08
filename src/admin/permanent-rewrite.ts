/**
 * What requeue and purge share when they rewrite the permanent log: the journaled rewrite
 * (src/store/rewrite-permanent.ts) set up from a resolved run, and its outcome copied into the
 * run's summary. They differ only in what a selected entry becomes (moved or dropped).
 */
import { ListenerGuard } from '../base/listener-guard.js'
import type { ByteSink } from '../format/sink.js'
import type { Envelope } from '../format/envelope.js'
import type { LogPaths } from '../store/segments.js'
import { type RewriteHooks, type RewriteResult, rewritePermanent } from '../store/rewrite-permanent.js'
import { type ResolvedFilter, envelopeSelector } from './filters.js'
import type { Common } from './options.js'
import type { AdminProgress } from './types.js'

/** A resolved requeue or purge run: what both take besides their own options. */
export interface PermanentRewriteRun extends Common {
  filter: ResolvedFilter
  dryRun: boolean
  sealTimeout: number
  onProgress?: (p: AdminProgress) => void
}

/** The summary fields a rewrite fills in the same way for requeue and purge. */
export interface RewriteCounts {
  kept: number
  segments: number
  rewritten: number
  aborted: boolean
  limited: boolean
  warnings: string[]
}

export async function rewriteSelected(
  paths: LogPaths,
  op: 'requeue' | 'purge',
  run: PermanentRewriteRun,
  summary: RewriteCounts,
  hooks: RewriteHooks | undefined,
  transform?: (sink: ByteSink, env: Envelope, line: string) => void,
): Promise<RewriteResult> {
  // A progress callback that throws must not stop the rewrite halfway: it becomes a warning.
  const guard = new ListenerGuard((message) => summary.warnings.push(message))
  const res = await rewritePermanent({
    paths,
    op,
    select: envelopeSelector(run.filter),
    transform,
    limit: run.filter.limit,
    maxRecordSize: run.maxRecordSize,
    signal: run.signal,
    hooks,
    onProgress: (done, total, items) => guard.call('onProgress', run.onProgress, { done, total, items }),
  })
  guard.flush()
  summary.kept = res.kept
  summary.segments = res.segments
  summary.rewritten = res.rewritten
  summary.aborted = res.aborted
  summary.limited = res.limited
  for (const s of res.skipped) summary.warnings.push(`${s.segment} left unchanged: it ${s.reason}`)
  return res
}
