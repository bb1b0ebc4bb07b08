/**
 * Entry decoding, once for every reader: a stored line becomes an envelope or the reason it
 * is corrupt (LineDecoder: replay, shipping, scans), a quarantine record is read without ever
 * throwing (parseCorruptRecord), and either becomes the public `Entry` (local listings,
 * readEntry, central rows) through the same two builders, so every face shows the same fields.
 */
import { isUtf8 } from 'node:buffer'
import { type Envelope, EnvelopeParseError, parseEnvelope } from './envelope.js'
import { fingerprint } from './fingerprint.js'
import { copyTrace } from '../base/trace-context.js'
import { type Origin, copyLineage } from './lineage.js'
import type { Entry, Kind } from './model.js'

/**
 * Buffer's own decoder: what toString('utf8', s, e) ends in, minus the argument checks (our
 * bounds are always valid) — measurable on a loop that does little else.
 */
interface Utf8Slicer {
  utf8Slice(start: number, end: number): string
}

/**
 * Decodes one line at a time into its own fields, so the replay's hot path allocates nothing
 * beyond the line's text and its parsed envelope. Each reader keeps its own decoder; the
 * fields hold the last line's result until the next `decode`.
 */
export class LineDecoder {
  /** End of the line's bytes, a trailing CR (hand-edited files) excluded. */
  end = 0
  /** The line's text; '' when it is empty or not UTF-8. */
  line = ''
  /** Why the line is corrupt; undefined when `decode` returned an envelope. */
  error: string | undefined = undefined

  /** The text of `buf[s..e)` (a line without its newline), or undefined with `error` when it is empty or not UTF-8. */
  text(buf: Buffer, s: number, e: number): string | undefined {
    if (e > s && buf[e - 1] === 0x0d) e--
    this.end = e
    this.line = ''
    if (e === s) {
      this.error = 'empty line'
      return undefined
    }
    // Decoding turns invalid UTF-8 into U+FFFD, so only a line showing one needs the strict
    // check: the common line costs one native call.
    const line = (buf as unknown as Utf8Slicer).utf8Slice(s, e)
    if (line.includes('\uFFFD') && !isUtf8(buf.subarray(s, e))) {
      this.error = 'invalid UTF-8'
      return undefined
    }
    this.line = line
    this.error = undefined
    return line
  }

  /** The envelope of `buf[s..e)`, or undefined with `error`; `torn`: the bytes after a segment's last newline. */
  decode(buf: Buffer, s: number, e: number, torn = false): Envelope | undefined {
    const line = this.text(buf, s, e)
    if (line === undefined) return undefined
    try {
      return parseEnvelope(line)
    } catch (err) {
      const why = err instanceof EnvelopeParseError ? err.message : String(err)
      this.error = torn ? `torn record at end of segment (${why})` : why
      return undefined
    }
  }
}

/**
 * A record of the corrupt quarantine (one JSON object per line, written by replay). Readers
 * must survive anything in that file, lines that are not JSON included, so parsing never
 * throws and every field is checked.
 */
export interface CorruptRecord extends Pick<Entry, 'raw' | 'rawEncoding' | 'rawTruncated' | 'rawFile'> {
  /** When it was quarantined; NaN when the record has no usable time. */
  ts: number
  /** The parse error (what a reason filter matches). */
  error: string | null
  segment?: string
  offset?: number
  length?: number
}

/** The optional fields of a quarantine record, each with the type it must have to be taken. */
const RECORD_FIELDS = { segment: 'string', offset: 'number', length: 'number', raw: 'string', rawEncoding: 'string', rawTruncated: 'boolean', rawFile: 'string' } as const

export function parseCorruptRecord(line: string): CorruptRecord | undefined {
  try {
    return corruptRecordOf(JSON.parse(line))
  } catch {
    return undefined
  }
}

/** A parsed quarantine record (centrally: the jsonb it was shipped as), checked field by field. */
export function corruptRecordOf(o: unknown): CorruptRecord | undefined {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined
  const r = o as Record<string, unknown>
  const rec: CorruptRecord = { ts: Number(r.ts), error: typeof r.error === 'string' ? r.error : null }
  for (const [k, type] of Object.entries(RECORD_FIELDS)) if (typeof r[k] === type) (rec as unknown as Record<string, unknown>)[k] = r[k]
  return rec
}

/** Where an entry is stored, and the reference that finds it again. */
export type Place = Pick<Entry, 'ref' | 'file' | 'offset' | 'line'>

const HEADER = ['id', 'firstTs', 'dueTs', 'final', 'errorName', 'errorCode', 'editOf'] as const

/** The entry of a retry or permanent envelope. */
export function envelopeEntry(kind: Kind, at: Place, env: Envelope): Entry {
  const e: Entry = { kind, ref: at.ref, ts: env.ts, attempt: env.attempt, reason: env.reason, fingerprint: fingerprint(env.reason), line: at.line, file: at.file, offset: at.offset }
  for (const k of HEADER) if (env[k] !== undefined) (e as unknown as Record<string, unknown>)[k] = env[k]
  copyLineage(e, env)
  // A requeue moves a line byte for byte, `final` included; only a permanent entry has ended.
  if (kind !== 'permanent') delete e.final
  copyTrace(e, env)
  e.payload = env.payload
  return e
}

/** The entry of a quarantine record. */
export function corruptEntry(at: Place, rec: CorruptRecord): Entry {
  const e: Entry = { kind: 'corrupt', ref: at.ref, ts: rec.ts, attempt: 0, reason: rec.error, fingerprint: fingerprint(rec.error), line: at.line, file: at.file, offset: at.offset }
  for (const k of ['raw', 'rawEncoding', 'rawTruncated', 'rawFile'] as const) if (rec[k] !== undefined) (e as unknown as Record<string, unknown>)[k] = rec[k]
  if (rec.segment !== undefined || rec.offset !== undefined) e.origin = { segment: rec.segment, offset: rec.offset, length: rec.length }
  return e
}

/**
 * An entry as one line of JSON: its fields, without the stored `line` they were read from (a
 * central entry's is re-encoded anyway). `inspect --json` prints central entries so, and an
 * export prints every entry so, on either backend.
 */
export function entryJson(e: Entry): string {
  const { line: _line, ...fields } = e
  return JSON.stringify(fields)
}

/**
 * The entry as it leaves its log (an export): where it was written goes with it, unless it
 * already says (a shipped entry keeps the host and log it was first written to).
 */
export function leavingLog(e: Entry, from: Origin): Entry {
  if (e.origin?.host !== undefined && e.origin.log !== undefined) return e
  return { ...e, origin: { ...e.origin, host: from.host, log: from.log } }
}
