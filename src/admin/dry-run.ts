/**
 * What a requeue or purge would touch, counted read-only (no lock, nothing written): the
 * same filter over the same files, sealed and active, so the count matches a real run's.
 */
import { rawPayloadOf } from '../format/envelope.js'
import type { LogPaths } from '../store/segments.js'
import { parseCorruptRecord } from '../store/corrupt-record.js'
import { corruptFiles, familyFiles, scanFiles } from '../store/scan.js'
import type { ResolvedFilter } from './filters.js'

export interface DryRunCount {
  matched: number
  /** Entries read and not selected. */
  kept: number
  segments: number
  limited: boolean
}

interface CountRun {
  filter: ResolvedFilter
  maxRecordSize: number
  signal: AbortSignal | undefined
}

export async function countPermanent(paths: LogPaths, run: CountRun): Promise<DryRunCount> {
  const files = await familyFiles(paths.permanent, { checkpoints: false })
  const max = run.filter.limit ?? Infinity
  const c: DryRunCount = { matched: 0, kept: 0, segments: files.length, limited: false }
  await scanFiles(files, {
    maxRecordSize: run.maxRecordSize,
    shouldStop: () => run.signal?.aborted ?? false,
    onItem: (it) => {
      if (it.kind !== 'record') return
      const env = it.env
      const hit = run.filter.match({ ts: env.ts, reason: env.reason, id: env.id, attempt: env.attempt, payloadText: () => rawPayloadOf(it.line, env) })
      if (hit && c.matched < max) c.matched++
      else {
        if (hit) c.limited = true
        c.kept++
      }
    },
  })
  return c
}

export async function countCorrupt(paths: LogPaths, run: CountRun): Promise<DryRunCount> {
  const files = await corruptFiles(paths.corrupt)
  const max = run.filter.limit ?? Infinity
  const c: DryRunCount = { matched: 0, kept: 0, segments: files.length, limited: false }
  await scanFiles(files, {
    maxRecordSize: run.maxRecordSize,
    envelopes: false,
    shouldStop: () => run.signal?.aborted ?? false,
    onItem: (it) => {
      if (it.kind !== 'line') return
      const rec = parseCorruptRecord(it.line)
      const hit = !!rec && run.filter.match({ ts: rec.ts, reason: rec.error, payloadText: () => rec.raw ?? '' })
      if (hit && c.matched < max) c.matched++
      else {
        if (hit) c.limited = true
        c.kept++
      }
    },
  })
  return c
}
