/**
 * Which records a file holds, by id: complete lines that parse as envelopes. A torn line
 * (no newline, or cut JSON) is not a record; `.gz` files are read as far as they inflate.
 */
import zlib from 'node:zlib'
import { parseEnvelope } from '../../src/format/envelope.js'

export function inflatePrefix(gz: Buffer): Buffer {
  try {
    return zlib.gunzipSync(gz, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  } catch {
    return Buffer.alloc(0)
  }
}

/** Ids of the complete records in `bytes` (one per record; an id twice counts twice). */
export function recordIds(bytes: Buffer, gz: boolean): string[] {
  const text = (gz ? inflatePrefix(bytes) : bytes).toString('utf8')
  const out: string[] = []
  let start = 0
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
    const id = idOfLine(text.slice(start, nl))
    if (id !== undefined) out.push(id)
    start = nl + 1
  }
  return out
}

export function idOfLine(line: string): string | undefined {
  try {
    return parseEnvelope(line).id
  } catch {
    return undefined
  }
}

/**
 * A quarantined line that still holds a complete record: the line itself, or one glued
 * behind a torn fragment (`{"ts":1,"att{"ts":2,…}`). Returns its id.
 */
export function completeRecordIn(raw: string): string | undefined {
  for (let at = raw.indexOf('{"ts":'); at !== -1; at = raw.indexOf('{"ts":', at + 1)) {
    const id = idOfLine(raw.slice(at))
    if (id !== undefined) return id
  }
  return undefined
}
