/**
 * What a requeue or purge would touch, counted read-only (no lock, nothing written): the
 * same filter over the same files, sealed and active, so the count matches a real run's.
 */
import { parseCorruptRecord } from '../format/entry.js'
import type { LogPaths } from '../store/segments.js'
import { corruptFiles, familyFiles, scanFiles } from '../store/scan.js'
import { type Filterable, type ResolvedFilter, envelopeFields, recordFields } from './filters.js'
import { ReasonCounter } from '../format/reasons.js'

export interface DryRunCount {
  matched: number
  /** Entries read and not selected. */
  kept: number
  segments: number
  limited: boolean
  reasons: ReasonCounter
}

interface CountRun {
  filter: ResolvedFilter
  maxRecordSize: number
  signal: AbortSignal | undefined
}

export async function countMatching(paths: LogPaths, kind: 'permanent' | 'corrupt', run: CountRun): Promise<DryRunCount> {
  const files = kind === 'corrupt' ? await corruptFiles(paths.corrupt) : await familyFiles(paths.permanent, { checkpoints: false })
  const max = run.filter.limit ?? Infinity
  const c: DryRunCount = { matched: 0, kept: 0, segments: files.length, limited: false, reasons: new ReasonCounter() }
  const count = (f: Filterable | undefined) => {
    const hit = f !== undefined && run.filter.match(f)
    if (hit && c.matched < max) {
      c.matched++
      c.reasons.add(f.reason, f.ts)
    } else {
      if (hit) c.limited = true
      c.kept++
    }
  }
  await scanFiles(files, {
    maxRecordSize: run.maxRecordSize,
    envelopes: kind !== 'corrupt',
    shouldStop: () => run.signal?.aborted ?? false,
    onItem: (it) => {
      if (it.kind === 'record') count(envelopeFields(it.env, () => it.line))
      else if (it.kind === 'line') {
        const rec = parseCorruptRecord(it.line)
        count(rec && recordFields(rec))
      }
    },
  })
  return c
}
