/**
 * What a requeue or purge would touch, counted read-only (no lock, nothing written): the
 * same filter over the same files, sealed and active, so the count matches a real run's.
 * With a transform (repair before redrive), every selected entry also goes through it and
 * counts only when it changes, with the first changes kept as JSON Patches for the person
 * deciding.
 */
import path from 'node:path'
import { envelopeEntry, parseCorruptRecord } from '../format/entry.js'
import { type Envelope, rawPayloadOf } from '../format/envelope.js'
import { type LoadedTransform, TransformTally, applyTransform } from '../format/edit.js'
import type { TransformSummary } from '../format/model.js'
import type { LogPaths } from '../store/segments.js'
import { type ScanItem, corruptFiles, familyFiles, scanFiles } from '../store/scan.js'
import { locationOf } from './audit.js'
import { type Filterable, type ResolvedFilter, envelopeFields, recordFields } from './filters.js'
import { ReasonCounter } from '../format/reasons.js'

export interface DryRunCount {
  matched: number
  /** Entries read and not selected. */
  kept: number
  segments: number
  limited: boolean
  reasons: ReasonCounter
  /** Matching entries `holdBack` held back (requeue's loop guard); counted in `kept`. */
  held: number
  /** With a transform: what it did to the selected entries. */
  summary?: TransformSummary
}

interface CountRun {
  filter: ResolvedFilter
  maxRecordSize: number
  signal: AbortSignal | undefined
}

export async function countMatching(
  paths: LogPaths,
  kind: 'permanent' | 'corrupt',
  run: CountRun,
  holdBack?: (env: Envelope) => boolean,
  t?: LoadedTransform,
): Promise<DryRunCount> {
  const files = kind === 'corrupt' ? await corruptFiles(paths.corrupt) : await familyFiles(paths.permanent, { checkpoints: false })
  const max = run.filter.limit ?? Infinity
  const c: DryRunCount = { matched: 0, kept: 0, segments: files.length, limited: false, reasons: new ReasonCounter(), held: 0 }
  const tally = t && new TransformTally(t.source)
  // A transform that leaves the entry as it is selects nothing: a real run would keep it.
  const changes = (it: ScanItem & { kind: 'record' }): boolean => {
    if (!t || !tally) return true
    const at = { source: path.basename(it.file.path).replace(/\.gz$/, ''), offset: it.offset }
    const location = locationOf(at)
    const outcome = applyTransform(t, rawPayloadOf(it.line, it.env), envelopeEntry('permanent', { ref: location.ref, file: at.source, offset: at.offset, line: it.line }, it.env))
    tally.add(outcome, location, it.env.id, true)
    return outcome.kind === 'changed'
  }
  await scanFiles(files, {
    maxRecordSize: run.maxRecordSize,
    envelopes: kind !== 'corrupt',
    shouldStop: () => run.signal?.aborted ?? false,
    onItem: (it) => {
      let f: Filterable | undefined
      if (it.kind === 'record') f = envelopeFields(it.env, () => it.line)
      else if (it.kind === 'line') {
        const rec = parseCorruptRecord(it.line)
        f = rec && recordFields(rec)
      } else if (!t) return
      const hit = f !== undefined && run.filter.match(f)
      if (hit && it.kind === 'record' && holdBack?.(it.env)) c.held++
      else if (hit && c.matched < max && (it.kind !== 'record' || changes(it))) {
        c.matched++
        c.reasons.add(f!.reason, f!.ts)
        return
      } else if (hit && c.matched >= max) c.limited = true
      c.kept++
    },
  })
  if (tally) c.summary = tally.done()
  return c
}
