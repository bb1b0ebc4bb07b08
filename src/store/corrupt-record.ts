/**
 * Records of the corrupt quarantine (one JSON object per line, written by replay). Readers
 * (inspect, stats, purge) must survive anything in that file, including lines that are not
 * JSON at all, so parsing never throws and every field is checked.
 */
export interface CorruptRecord {
  /** When it was quarantined; NaN when the record has no usable time. */
  ts: number
  /** The parse error (what a reason filter matches). */
  error: string | null
  segment?: string
  offset?: number
  length?: number
  raw?: string
  rawEncoding?: string
  rawTruncated?: boolean
  /** An over-limit line's own file (corrupt-<segment>.<offset>.line). */
  rawFile?: string
}

export function parseCorruptRecord(line: string): CorruptRecord | undefined {
  let o: unknown
  try {
    o = JSON.parse(line)
  } catch {
    return undefined
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined
  const r = o as Record<string, unknown>
  const rec: CorruptRecord = { ts: Number(r.ts), error: typeof r.error === 'string' ? r.error : null }
  if (typeof r.segment === 'string') rec.segment = r.segment
  if (typeof r.offset === 'number') rec.offset = r.offset
  if (typeof r.length === 'number') rec.length = r.length
  if (typeof r.raw === 'string') rec.raw = r.raw
  if (typeof r.rawEncoding === 'string') rec.rawEncoding = r.rawEncoding
  if (typeof r.rawTruncated === 'boolean') rec.rawTruncated = r.rawTruncated
  if (typeof r.rawFile === 'string') rec.rawFile = r.rawFile
  return rec
}
