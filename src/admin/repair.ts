/**
 * Repair before redrive on a local log, the dry run: every selected entry goes through the
 * transform (read-only, no lock), counted as a real run would count it, with the first
 * changes kept as JSON Patches for the person deciding.
 */
import path from 'node:path'
import { type Envelope, rawPayloadOf } from '../format/envelope.js'
import { envelopeEntry } from '../format/entry.js'
import { type LoadedTransform, TransformTally, applyTransform } from '../format/edit.js'
import type { TransformSummary } from '../format/model.js'
import type { LogPaths } from '../store/segments.js'
import { familyFiles, scanFiles } from '../store/scan.js'
import { locationOf } from './audit.js'
import type { DryRunCount } from './dry-run.js'
import { envelopeFields } from './filters.js'
import type { ChangeRun } from './permanent-rewrite.js'
import { ReasonCounter } from '../format/reasons.js'

export async function dryRunTransform(
  paths: LogPaths,
  run: ChangeRun,
  t: LoadedTransform,
  holdBack: (env: Envelope) => boolean,
): Promise<{ count: DryRunCount; summary: TransformSummary }> {
  const files = await familyFiles(paths.permanent, { checkpoints: false })
  const max = run.filter.limit ?? Infinity
  const c: DryRunCount = { matched: 0, kept: 0, segments: files.length, limited: false, reasons: new ReasonCounter(), held: 0 }
  const tally = new TransformTally(t.source)
  await scanFiles(files, {
    maxRecordSize: run.maxRecordSize,
    envelopes: true,
    shouldStop: () => run.signal?.aborted ?? false,
    onItem: (it) => {
      const hit = it.kind === 'record' && run.filter.match(envelopeFields(it.env, () => it.line))
      if (!hit || c.matched >= max || holdBack(it.env)) {
        if (hit && holdBack(it.env)) c.held++
        else if (hit) c.limited = true
        c.kept++
        return
      }
      const at = { source: path.basename(it.file.path).replace(/\.gz$/, ''), offset: it.offset }
      const location = locationOf(at)
      const outcome = applyTransform(t, rawPayloadOf(it.line, it.env), envelopeEntry('permanent', { ref: location.ref, file: at.source, offset: at.offset, line: it.line }, it.env))
      tally.add(outcome, location, it.env.id, true)
      if (outcome.kind === 'changed') {
        c.matched++
        c.reasons.add(it.env.reason, it.env.ts)
      } else c.kept++
    },
  })
  return { count: c, summary: tally.done() }
}
