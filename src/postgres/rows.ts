/**
 * One shipped line → one row. The row's key is derived from where the line was read (host,
 * log, segment name, byte offset) and from the line's bytes: re-shipping after a crash finds
 * the same keys, and a segment name reused after its predecessor was shipped and deleted (the
 * writer's sequence restarts when no file is left) still yields new keys.
 */
import crypto from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import { type Envelope, rawPayloadOf } from '../format/envelope.js'
import { LineDecoder } from '../format/entry.js'
import type { Kind } from '../format/model.js'
import { fingerprintOf } from './fingerprint.js'
import { jsonbRefusal, pgText, pgTextOrNull } from './pg-text.js'
import { copyTrace } from '../base/trace-context.js'
import { copyLineage } from '../format/lineage.js'

export interface Row {
  key: string
  source: string
  offset: number
  state: Kind
  attempt: number
  reason: string | null
  fingerprint: string
  id: string | null
  ts: number
  firstTs: number | null
  dueTs: number
  errorName: string | null
  errorCode: string | null
  final: string | null
  /** JSON text of the payload (inserted as jsonb), or null. */
  payload: string | null
  raw: string | null
  /** JSON text of the trace context (inserted as jsonb), or null. */
  trace: string | null
  /** Lineage (src/format/lineage.ts): the first reason's parts (null: the current reason is the first). */
  firstReason: string | null
  firstErrorName: string | null
  firstErrorCode: string | null
  firstFingerprint: string | null
  /** JSON text of the earlier attempts (inserted as jsonb), or null. */
  history: string | null
  redrives: number
  /** JSON text of the envelope's origin, or null: then the shipping host and log are its origin. */
  origin: string | null
  /** The latest failure's stack (`keepStack`), or null. */
  stack: string | null
  /** JSON text of a repaired entry's original (`editOf`), or null. */
  editOf: string | null
  /** The line as read (not sent unless the row is stored as its raw line): what to keep when the server refuses the row. */
  line: string
}

/**
 * The key is laid out for the unique index as much as for uniqueness: 2 bytes of a hash of
 * the file (host, log, segment name), the byte offset (40 bits, wrapping), then 9 bytes of a
 * hash of the place and the line's bytes. Rows of one file sort by offset, so a ship appends
 * to one region of the index instead of dirtying a random page per row: random 128-bit keys
 * made that index a third of the server's insert time. Uniqueness rests on the 72-bit hash
 * (it covers the full offset): two different lines at the same offset of a reused segment
 * name collide with probability 2^-72.
 */
export function entryKey(host: string, log: string, source: string, offset: number, bytes: Buffer): string {
  const place = `${host}\0${log}\0${source}\0`
  if (place !== lastPlace) {
    lastPlace = place
    lastPrefix = crypto.createHash('md5').update(place).digest().readUInt16BE(0)
  }
  const content = crypto.createHash('md5').update(`${place}${offset}\0`).update(bytes).digest()
  const key = Buffer.allocUnsafe(16)
  key.writeUInt16BE(lastPrefix, 0)
  key.writeUIntBE(offset % 2 ** 40, 2, 5)
  content.copy(key, 7, 0, 9)
  const h = key.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** The file prefix of the last key: a ship computes keys for one file after another. */
let lastPlace = ''
let lastPrefix = 0

export function corruptRow(key: string, source: string, offset: number, bytes: Buffer, why: string, now: number): Row {
  return corruptTextRow(key, source, offset, isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1'), why, now)
}

/** A corrupt row keeping `text` (the line, or what is left of it) with `why`. */
export function corruptTextRow(key: string, source: string, offset: number, text: string, why: string, now: number): Row {
  const raw = pgText(text)
  const reason = pgText(why)
  return {
    key, source, offset, state: 'corrupt', attempt: 0, reason, fingerprint: fingerprintOf(reason), id: null, ts: now,
    firstTs: null, dueTs: 0, errorName: null, errorCode: null, final: null, payload: null, raw, trace: null, line: raw, ...NO_LINEAGE,
  }
}

export function envelopeRow(key: string, source: string, offset: number, line: string, env: Envelope, state: Kind): Row {
  const payload = rawPayloadOf(line, env)
  // A payload jsonb cannot store is kept as the whole line in `raw` (text), parsed on read:
  // the same JSON.parse a local replay runs, so both deliver the same value.
  const storable = jsonbRefusal(payload) === undefined
  const reason = pgTextOrNull(env.reason)
  return {
    key,
    source,
    offset,
    state,
    attempt: env.attempt,
    reason,
    fingerprint: fingerprintOf(reason),
    id: pgTextOrNull(env.id),
    ts: Math.trunc(env.ts),
    firstTs: env.firstTs === undefined ? null : Math.trunc(env.firstTs),
    dueTs: env.dueTs === undefined ? 0 : Math.trunc(env.dueTs),
    errorName: pgTextOrNull(env.errorName),
    errorCode: pgTextOrNull(env.errorCode),
    final: env.final ?? null,
    payload: storable ? payload : null,
    raw: storable ? null : line,
    trace: traceJson(env),
    ...lineageColumns(env),
    line,
  }
}

const NO_LINEAGE = { firstReason: null, firstErrorName: null, firstErrorCode: null, firstFingerprint: null, history: null, redrives: 0, origin: null, stack: null, editOf: null }

/** The envelope's lineage as columns, its strings made storable (as the reason's are). */
function lineageColumns(env: Envelope): Pick<Row, keyof typeof NO_LINEAGE> {
  const l = copyLineage({}, env)
  const editOf = editOfJson(env.editOf)
  if (l.firstReason === undefined && l.history === undefined && l.redrives === undefined && l.origin === undefined && l.stack === undefined && editOf === null) return NO_LINEAGE
  const first = l.firstReason
  const firstReason = pgTextOrNull(first?.reason)
  const str = (s: string | undefined) => (s === undefined ? undefined : pgText(s))
  return {
    firstReason,
    firstErrorName: pgTextOrNull(first?.errorName),
    firstErrorCode: pgTextOrNull(first?.errorCode),
    firstFingerprint: first === undefined ? null : fingerprintOf(firstReason),
    history:
      l.history === undefined
        ? null
        : JSON.stringify(l.history.map((a) => ({ ts: Math.trunc(a.ts), attempt: a.attempt, reason: pgTextOrNull(a.reason), errorName: str(a.errorName), errorCode: str(a.errorCode) }))),
    redrives: l.redrives ?? 0,
    origin: l.origin === undefined ? null : JSON.stringify({ host: pgText(l.origin.host), log: pgText(l.origin.log) }),
    stack: l.stack === undefined ? null : pgText(l.stack),
    editOf,
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** A repaired entry's `editOf` as a jsonb document, its strings made storable; null when absent or malformed (a hand-edited line). */
function editOfJson(v: unknown): string | null {
  if (!isObj(v) || !isObj(v.location)) return null
  const l = v.location
  if (typeof l.ref !== 'string' || typeof l.file !== 'string' || typeof l.offset !== 'number' || !Number.isSafeInteger(l.offset)) return null
  const location = { ref: pgText(l.ref), file: pgText(l.file), offset: l.offset, ...(typeof l.host === 'string' ? { host: pgText(l.host) } : {}) }
  return JSON.stringify(typeof v.id === 'string' ? { id: pgText(v.id), location } : { location })
}

/** The envelope's trace context as a jsonb document, its strings made storable. */
function traceJson(env: Envelope): string | null {
  const t = copyTrace({}, env)
  if (t.tp === undefined) return null
  return JSON.stringify({ tp: pgText(t.tp), ...(t.tpState !== undefined ? { tpState: pgText(t.tpState) } : {}), ...(t.baggage !== undefined ? { baggage: pgText(t.baggage) } : {}) })
}

/** `row` with its payload stored as the whole line in `raw` instead of as jsonb. */
export function asRawLine(row: Row): Row {
  return { ...row, payload: null, raw: row.line }
}

/** A line of a retry or permanent segment. */
export function segmentLineRow(
  host: string, log: string, source: string, offset: number, bytes: Buffer, state: 'retry' | 'permanent', torn: boolean, now: number,
): Row {
  const key = entryKey(host, log, source, offset, bytes)
  const env = decoder.decode(bytes, 0, bytes.length, torn)
  if (env === undefined) return corruptRow(key, source, offset, bytes, decoder.error!, now)
  return envelopeRow(key, source, offset, decoder.line, env, state)
}

/** Lines are turned into rows one at a time, each used at once. */
const decoder = new LineDecoder()

/** A record of the local corrupt quarantine (written by a local replay). */
export function quarantineLineRow(host: string, log: string, source: string, offset: number, bytes: Buffer, now: number): Row {
  const key = entryKey(host, log, source, offset, bytes)
  let rec: { ts?: unknown; error?: unknown; raw?: unknown; rawEncoding?: unknown } | undefined
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown
    if (v && typeof v === 'object' && !Array.isArray(v)) rec = v as typeof rec
  } catch {}
  if (!rec) return corruptRow(key, source, offset, bytes, 'unreadable quarantine record', now)
  const why = typeof rec.error === 'string' ? rec.error : 'corrupt'
  const row = corruptRow(key, source, offset, Buffer.alloc(0), why, typeof rec.ts === 'number' && Number.isFinite(rec.ts) ? Math.trunc(rec.ts) : now)
  row.raw = typeof rec.raw === 'string' ? pgText(rec.raw) : null
  // The whole quarantine record (segment, offset, encoding, truncation, side file) stays queryable.
  const json = bytes.toString('utf8')
  row.payload = jsonbRefusal(json) === undefined ? json : null
  row.line = pgText(json)
  return row
}
