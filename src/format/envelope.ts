/**
 * The on-disk record: one JSON object per line, payload last so that replay can re-log an
 * item by splicing the payload's original bytes instead of parsing and re-encoding it.
 *
 *   {"ts":1732252800000,"attempt":1,"reason":"timeout","id":"ord-42","firstTs":…,"dueTs":…,
 *    "errorName":"TypeError","errorCode":"ECONNRESET","final":"exhausted","tp":"00-…-01","payload":{…}}
 */
import type { TraceContext } from '../base/trace-context.js'
import type { Attempt, FirstReason, Lineage } from './lineage.js'
import { ByteSink } from './sink.js'

/** Why an item ended in the permanent log. */
export type FinalReason = 'exhausted' | 'permanent' | 'expired' | 'manual'

/**
 * With the trace context captured by log() (`tp`, `tpState`, `baggage`: src/base/trace-context.ts)
 * and, once re-logged or requeued, the lineage (`firstReason`, `history`, `redrives`, `origin`, `stack`:
 * src/format/lineage.ts; read them through `copyLineage`, which drops malformed ones).
 */
export interface Envelope<T = unknown> extends EnvelopeHeader {
  payload: T
}

/** The original of a repaired entry: its id and where it was stored. */
export interface EditOf {
  id?: string
  location: EntryLocation
}

/** Where an entry is (or was) stored: a listing's `ref`, its file and byte offset; centrally also its host. */
export interface EntryLocation {
  ref: string
  file: string
  offset: number
  host?: string
}

/** Envelope fields other than the payload, as written by the encoder. */
export interface EnvelopeHeader extends Partial<TraceContext>, Lineage {
  /** When this failure was recorded (epoch ms). */
  ts: number
  /** Attempts made so far, including the original failure (1 = the first failure). */
  attempt: number
  /** The last error's message; null when none was given. */
  reason: string | null
  /** Caller-supplied stable id, for idempotent consumers. */
  id?: string
  /** When the item first failed (epoch ms); kept across re-logs, used by `ttl`. */
  firstTs?: number
  /** When the next attempt is due (epoch ms); replay defers the item until then. */
  dueTs?: number
  errorName?: string
  errorCode?: string
  /** Set on permanent-log records: why the item ended there. */
  final?: FinalReason
  /** Set on a repaired entry (requeue with a transform): the entry it was made from. */
  editOf?: EditOf
}

/** Writes everything up to and including `"payload":`; the caller appends the payload and `}\n`. */
export function encodeHeader(
  sink: ByteSink,
  ts: number,
  attempt: number,
  reason: string | null,
  id: string | undefined,
  extra: EnvelopeHeader | undefined,
): void {
  sink.ascii('{"ts":')
  sink.number(ts)
  sink.ascii(',"attempt":')
  sink.uint(attempt)
  sink.ascii(',"reason":')
  if (reason === null) sink.ascii('null')
  else sink.jsonString(reason)
  stringField(sink, ',"id":', id)
  if (extra !== undefined) {
    numberField(sink, ',"firstTs":', extra.firstTs)
    numberField(sink, ',"dueTs":', extra.dueTs)
    encodeError(sink, extra)
    stringField(sink, ',"final":', extra.final)
    if (extra.firstReason !== undefined || extra.history !== undefined || extra.redrives !== undefined || extra.origin !== undefined || extra.stack !== undefined) {
      encodeLineage(sink, extra)
    }
    if (extra.tp !== undefined) encodeTrace(sink, extra)
    if (extra.editOf !== undefined) {
      sink.ascii(',"editOf":')
      sink.utf8(JSON.stringify(extra.editOf))
    }
  }
  sink.ascii(',"payload":')
}

function encodeLineage(sink: ByteSink, l: Lineage): void {
  if (l.firstReason !== undefined) {
    sink.ascii(',"firstReason":{')
    encodeReason(sink, l.firstReason)
    sink.byte(0x7d)
  }
  if (l.history !== undefined) {
    sink.ascii(',"history":[')
    for (let i = 0; i < l.history.length; i++) {
      const a: Attempt = l.history[i]!
      sink.ascii(i === 0 ? '{"ts":' : ',{"ts":')
      sink.number(a.ts)
      sink.ascii(',"attempt":')
      sink.uint(a.attempt)
      sink.byte(0x2c) // ,
      encodeReason(sink, a)
      sink.byte(0x7d)
    }
    sink.byte(0x5d) // ]
  }
  if (l.redrives !== undefined) {
    sink.ascii(',"redrives":')
    sink.uint(l.redrives)
  }
  if (l.origin !== undefined) {
    sink.ascii(',"origin":{"host":')
    sink.jsonString(l.origin.host)
    sink.ascii(',"log":')
    sink.jsonString(l.origin.log)
    sink.byte(0x7d)
  }
  stringField(sink, ',"stack":', l.stack)
}

/** `"reason":…` and the error's name and code, as the envelope's own last reason is written. */
function encodeReason(sink: ByteSink, r: FirstReason): void {
  sink.ascii('"reason":')
  if (r.reason === null) sink.ascii('null')
  else sink.jsonString(r.reason)
  encodeError(sink, r)
}

/** `,"errorName":…,"errorCode":…` where given: after the last reason, and in each reason of the lineage. */
function encodeError(sink: ByteSink, e: { errorName?: string; errorCode?: string }): void {
  stringField(sink, ',"errorName":', e.errorName)
  stringField(sink, ',"errorCode":', e.errorCode)
}

function encodeTrace(sink: ByteSink, t: Partial<TraceContext>): void {
  sink.ascii(',"tp":')
  sink.jsonString(t.tp!)
  stringField(sink, ',"tpState":', t.tpState)
  stringField(sink, ',"baggage":', t.baggage)
}

/** `key` (`,"name":`) and the value, when given. */
function stringField(sink: ByteSink, key: string, v: string | undefined): void {
  if (v === undefined) return
  sink.ascii(key)
  sink.jsonString(v)
}

function numberField(sink: ByteSink, key: string, v: number | undefined): void {
  if (v === undefined) return
  sink.ascii(key)
  sink.number(v)
}

export function encodeTrailer(sink: ByteSink): void {
  sink.byte(0x7d) // }
  sink.byte(0x0a) // \n
}

// Reasons are described (and capped) in one place; re-exported for the envelope's users.
export { describeReason, type ReasonParts } from '../base/reason.js'

export class EnvelopeParseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EnvelopeParseError'
  }
}

const FINALS = new Set(['exhausted', 'permanent', 'expired', 'manual'])

/**
 * Parse and validate one line. Throws EnvelopeParseError describing the first problem;
 * replay quarantines such lines instead of stopping.
 */
export function parseEnvelope(line: string): Envelope {
  let obj: unknown
  try {
    obj = JSON.parse(line)
  } catch (err) {
    throw new EnvelopeParseError(`invalid JSON: ${(err as Error).message}`)
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new EnvelopeParseError('not a JSON object')
  const e = obj as Record<string, unknown>
  if (typeof e.ts !== 'number' || !Number.isFinite(e.ts)) throw new EnvelopeParseError('missing or invalid "ts"')
  if (typeof e.attempt !== 'number' || !Number.isInteger(e.attempt) || e.attempt < 0) {
    throw new EnvelopeParseError('missing or invalid "attempt"')
  }
  if (!('reason' in e) || (e.reason !== null && typeof e.reason !== 'string')) {
    throw new EnvelopeParseError('missing or invalid "reason"')
  }
  if (!('payload' in e)) throw new EnvelopeParseError('missing "payload"')
  if (e.id !== undefined && typeof e.id !== 'string') throw new EnvelopeParseError('invalid "id"')
  if (e.firstTs !== undefined && (typeof e.firstTs !== 'number' || !Number.isFinite(e.firstTs))) {
    throw new EnvelopeParseError('invalid "firstTs"')
  }
  if (e.dueTs !== undefined && (typeof e.dueTs !== 'number' || !Number.isFinite(e.dueTs))) {
    throw new EnvelopeParseError('invalid "dueTs"')
  }
  if (e.final !== undefined && !FINALS.has(e.final as string)) throw new EnvelopeParseError('invalid "final"')
  return e as unknown as Envelope
}

/**
 * The payload's original JSON text, when the line was written by us (payload is the last
 * key). Falls back to re-encoding for lines edited by hand or other tools.
 */
export function rawPayloadOf(line: string, env: Envelope): string {
  const i = line.indexOf(',"payload":')
  // Only our header precedes the payload: `,"` never occurs inside a JSON string and no
  // value of the header has a key "payload" (isOurHeader checks the key is the object's
  // own), so the first `,"payload":` is the key; the rest up to the closing brace is the value.
  if (i > 0) {
    let end = line.length - 1
    while (end > i && (line.charCodeAt(end) === 0x20 || line.charCodeAt(end) === 0x0d || line.charCodeAt(end) === 0x09)) end--
    if (line.charCodeAt(end) === 0x7d) {
      const raw = line.slice(i + 11, end)
      if (isOurHeader(line, i) && lastKeyIsPayload(env)) return raw
    }
  }
  return JSON.stringify(env.payload) ?? 'null'
}

function lastKeyIsPayload(env: Envelope): boolean {
  let last: string | undefined
  for (const k in env) last = k
  return last === 'payload'
}

function isOurHeader(line: string, payloadKeyAt: number): boolean {
  // The header's nested values (the lineage's objects and arrays) must all be closed before
  // the key: then `,"payload":` is a key of the top-level object, which is enough to trust
  // the splice. Lines without lineage have none and cost one pass as before.
  if (!line.startsWith('{"ts":')) return false
  let inStr = false
  let depth = 0
  for (let k = 1; k < payloadKeyAt; k++) {
    const c = line.charCodeAt(k)
    if (inStr) {
      if (c === 0x5c) k++
      else if (c === 0x22) inStr = false
    } else if (c === 0x22) inStr = true
    else if (c === 0x7b || c === 0x5b) depth++
    else if (c === 0x7d || c === 0x5d) depth--
  }
  return !inStr && depth === 0
}
