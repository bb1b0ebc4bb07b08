/**
 * A row as the store's callers see it: numbers as numbers, the payload parsed. A replay
 * handler gets it as a CentralEntry; listings (inspect, readEntry) as the `Entry` a local log
 * lists, built by the same builders (format/entry.ts).
 */
import { type EditOf, type Envelope, type EnvelopeHeader, type FinalReason, parseEnvelope } from '../format/envelope.js'
import { type CorruptRecord, corruptEntry, corruptRecordOf, envelopeEntry } from '../format/entry.js'
import type { Entry, Kind } from '../format/model.js'
import type { EntryState } from './filters.js'
import { copyTrace } from '../base/trace-context.js'
import { type Lineage, copyLineage } from '../format/lineage.js'

/**
 * The entry a central replay handler gets with the payload: the envelope's fields (its lineage
 * included; `origin`: where it was shipped from, or written before that) and the row's.
 */
export interface CentralEntry<T = unknown> extends Omit<EnvelopeHeader, 'final'> {
  /** Database sequence number (stable, increasing with shipping order). */
  seq: number
  host: string
  log: string
  state: EntryState
  fingerprint: string
  final?: string
  /** The parsed payload; for a corrupt entry, the local quarantine record when there was one. */
  payload: T
  /** Corrupt entries: the damaged line's text (lossy when it was not UTF-8). */
  raw?: string
  /** Local file and byte offset the entry was shipped from. */
  source: string
  offset: number
  shippedAt: number
  updatedAt: number
}

/** Columns selected for a CentralEntry. */
export const ENTRY_COLUMNS =
    'seq, host, log, state, attempt, reason, fingerprint, id, ts, first_ts, due_ts, error_name, error_code, final, payload, raw, trace, source, byte_offset, shipped_at, updated_at, ' +
  'first_reason, first_error_name, first_error_code, first_fingerprint, history, redrives, origin, stack, edit_of'

export type EntryRowData = Record<string, unknown>

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v))
/** A column that is not SQL NULL. */
const has = (v: unknown): boolean => v !== null && v !== undefined

export function toEntry(r: EntryRowData): CentralEntry {
  const state = r.state as EntryState
  let payload: unknown = r.payload ?? undefined
  const raw = r.raw as string | null
  if (payload === undefined && raw !== null && state !== 'corrupt') {
    // Payloads jsonb cannot hold (jsonbRefusal in pg-text.ts, or refused by the server) were
    // stored as their whole line: parsed here as a local replay parses it.
    try {
      payload = parseEnvelope(raw).payload
    } catch {}
  }
  const e: CentralEntry = {
    seq: num(r.seq),
    host: r.host as string,
    log: r.log as string,
    state,
    attempt: num(r.attempt),
    reason: (r.reason as string | null) ?? null,
    fingerprint: r.fingerprint as string,
    ts: num(r.ts),
    payload: payload ?? null,
    source: r.source as string,
    offset: num(r.byte_offset),
    shippedAt: num(r.shipped_at),
    updatedAt: num(r.updated_at),
  }
  if (has(r.id)) e.id = r.id as string
  if (has(r.first_ts)) e.firstTs = num(r.first_ts)
  if (has(r.due_ts) && num(r.due_ts) > 0) e.dueTs = num(r.due_ts)
  if (has(r.error_name)) e.errorName = r.error_name as string
  if (has(r.error_code)) e.errorCode = r.error_code as string
  if (has(r.final)) e.final = r.final as string
  if (r.trace !== null && typeof r.trace === 'object') copyTrace(e, r.trace)
  copyLineage(e, lineageOfRow(r))
  if (r.edit_of !== null && typeof r.edit_of === 'object') e.editOf = r.edit_of as EditOf
  if (state === 'corrupt' && raw !== null) e.raw = raw
  return e
}

/** The lineage columns in the envelope's shape (`first_fingerprint` set: the row has a first reason of its own). */
function lineageOfRow(r: EntryRowData): Record<keyof Lineage, unknown> {
  const firstReason = has(r.first_fingerprint)
    ? { reason: r.first_reason ?? null, ...(has(r.first_error_name) ? { errorName: r.first_error_name } : {}), ...(has(r.first_error_code) ? { errorCode: r.first_error_code } : {}) }
    : undefined
  return { firstReason, history: r.history ?? undefined, redrives: has(r.redrives) ? num(r.redrives) : undefined, origin: r.origin ?? undefined, stack: r.stack ?? undefined }
}

/**
 * What a row was before it was settled: a delivered one was a retry entry; a purged one was
 * permanent, or corrupt when it has neither `final`, nor attempt, nor id (as corrupt rows are).
 */
function kindOf(c: CentralEntry): Kind {
  if (c.state === 'retry' || c.state === 'permanent' || c.state === 'corrupt') return c.state
  if (c.state === 'delivered') return 'retry'
  return c.final === undefined && c.attempt === 0 && c.id === undefined ? 'corrupt' : 'permanent'
}

/** A row as the `Entry` a listing gives; `ref` is its sequence number. */
export function entryOfRow(r: EntryRowData): Entry {
  const c = toEntry(r)
  const kind = kindOf(c)
  const at = { ref: String(c.seq), file: c.source, offset: c.offset, line: '' }
  let e: Entry
  if (kind === 'corrupt') {
    // A record of a local quarantine was shipped with its fields as the payload; a line found
    // bad while shipping has only the row: it came from the file and offset it was read at.
    const shipped = corruptRecordOf(c.payload)
    const rec: CorruptRecord = { ...(shipped ?? { segment: c.source, offset: c.offset }), ts: c.ts, error: c.reason }
    if (typeof r.raw === 'string') rec.raw = r.raw
    at.line = JSON.stringify(rec)
    e = corruptEntry(at, rec)
  } else {
    const env = { ts: c.ts, attempt: c.attempt, reason: c.reason } as Envelope
    for (const k of ['id', 'firstTs', 'dueTs', 'errorName', 'errorCode'] as const) if (c[k] !== undefined) (env as unknown as Record<string, unknown>)[k] = c[k]
    if (c.final !== undefined) env.final = c.final as FinalReason
    copyLineage(env, c)
    if (c.editOf !== undefined) env.editOf = c.editOf
    copyTrace(env, c)
    env.payload = c.payload
    // A payload jsonb could not hold was kept as the whole line: that is the stored line.
    at.line = typeof r.raw === 'string' ? r.raw : JSON.stringify(env)
    e = envelopeEntry(kind, at, env)
  }
  e.host = c.host
  e.logName = c.log
  if (c.state === 'delivered' || c.state === 'purged') e.settled = c.state
  return e
}
