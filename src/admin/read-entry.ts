/**
 * `readEntry(log, ref)`: one entry again, by the `ref` a listing gave it, built exactly as the
 * listing built it. A ref names the line by where it is (`<kind>/<file name>/<byte offset>`),
 * valid until that file is rewritten; reading it costs one line (plus the decompression before
 * it in a .gz), not a scan. The file name must be one of this log's own files, matched
 * exactly, so a crafted reference can never make anyone read anything else.
 */
import path from 'node:path'
import { DeadLetterError } from '../base/errors.js'
import { checkOptions } from '../base/checks.js'
import { corruptEntry, envelopeEntry, parseCorruptRecord } from '../format/entry.js'
import type { Entry, Kind, LocalOptions } from '../format/model.js'
import { resolveLogPath } from '../store/log-path.js'
import { regularFile, scanFiles } from '../store/scan.js'
import { type LogPaths, listSegments } from '../store/segments.js'
import { common, commonChecks } from './options.js'

export function localRef(kind: Kind, file: string, offset: number): string {
  return `${kind}/${path.basename(file)}/${offset}`
}

export function parseRef(ref: unknown): { kind: Kind; name: string; offset: number } {
  const m = typeof ref === 'string' ? /^(retry|permanent|corrupt)\/([^/\\\0]{1,255})\/(\d{1,15})$/.exec(ref) : null
  if (!m || m[2] === '.' || m[2] === '..') {
    throw new DeadLetterError('DLQ_INVALID_ARGUMENT', 'dlq: readEntry(): ref: expected <retry|permanent|corrupt>/<file name>/<byte offset>, as a listing gives it')
  }
  return { kind: m[1] as Kind, name: m[2]!, offset: Number(m[3]) }
}

async function fileOf(paths: LogPaths, kind: Kind, name: string): Promise<{ path: string; gz: boolean } | undefined> {
  if (kind === 'corrupt') return name === path.basename(paths.corrupt) && (await regularFile(paths.corrupt)) ? { path: paths.corrupt, gz: false } : undefined
  const fam = kind === 'retry' ? paths.retry : paths.permanent
  if (name === path.basename(fam.active)) return (await regularFile(fam.active)) ? { path: fam.active, gz: false } : undefined
  const seg = (await listSegments(fam)).find((s) => path.basename(s.path) === name)
  return seg && { path: seg.path, gz: seg.gz }
}

/** The entry `ref` points at; undefined when its file or line is not there any more, or the line is no entry. */
export async function readEntry(logPath: string, ref: string, options?: Pick<LocalOptions, 'maxRecordSize'>): Promise<Entry | undefined> {
  const { maxRecordSize } = common(checkOptions('readEntry', options, { maxRecordSize: commonChecks.maxRecordSize }))
  const { kind, name, offset } = parseRef(ref)
  const paths = await resolveLogPath('readEntry', logPath)
  const file = await fileOf(paths, kind, name)
  if (!file) return undefined
  const at = (line: string) => ({ ref, file: file.path, offset, line })
  let entry: Entry | undefined
  // One line, read as a listing reads it; a line still being written (after the last newline) is not an entry yet.
  await scanFiles([{ ...file, size: 0, active: true, start: offset, mtimeMs: 0 }], {
    maxRecordSize,
    envelopes: kind !== 'corrupt',
    onItem: (it) => {
      if (it.kind === 'record') entry = envelopeEntry(kind, at(it.line), it.env)
      else if (it.kind === 'line') {
        const rec = parseCorruptRecord(it.line)
        if (rec) entry = corruptEntry(at(it.line), rec)
      }
      return false
    },
  })
  return entry
}
