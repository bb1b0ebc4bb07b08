/**
 * An entry as a listing shows it: bounded whatever the entry (a payload or reason may be
 * megabytes), with how much was left out so the page can link to the whole.
 */
import path from 'node:path'
import type { SourceEntry } from './sources.js'
import { cut, jsonText } from './views/format.js'

export const REASON_PREVIEW = 300
export const PAYLOAD_PREVIEW = 200

/** `file` is the file's name; reason and fingerprint are cut. */
export type EntryRow = Pick<SourceEntry, 'ref' | 'kind' | 'file' | 'offset' | 'ts' | 'attempt' | 'id' | 'host' | 'reason' | 'fingerprint' | 'dueTs' | 'final'> & {
  reasonOmitted: number
  payload: string
  payloadOmitted: number
}

export function toRow(e: SourceEntry): EntryRow {
  const reason = e.reason === null ? null : cut(e.reason, REASON_PREVIEW)
  const payload = cut(e.kind === 'corrupt' ? (e.raw ?? '') : jsonText(e.payload), PAYLOAD_PREVIEW)
  const row: EntryRow = {
    ref: e.ref,
    kind: e.kind,
    file: path.basename(e.file),
    offset: e.offset,
    ts: e.ts,
    attempt: e.attempt,
    reason: reason?.text ?? null,
    reasonOmitted: reason?.omitted ?? 0,
    fingerprint: cut(e.fingerprint, REASON_PREVIEW).text,
    payload: payload.text,
    payloadOmitted: payload.omitted,
  }
  if (e.id !== undefined) row.id = e.id
  if (e.host !== undefined) row.host = e.host
  if (e.dueTs !== undefined) row.dueTs = e.dueTs
  if (e.final !== undefined) row.final = e.final
  return row
}
