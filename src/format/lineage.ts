/**
 * An entry's lineage: what happened to it since it first failed. The first failure's reason
 * (`firstReason`), the most recent earlier attempts (`history`, at most HISTORY_LIMIT), how
 * often a person or script requeued it (`redrives`) and, once it left the log it was written
 * to (a ship, a repair), where that was (`origin`), and, opt-in (`keepStack`), the latest
 * failure's stack (`stack`, capped; never one per attempt). A fresh `log()` writes none of it: an entry without
 * these fields is its own first failure, never redriven, in its own log — so old envelopes
 * read the same as new ones, and the hot path writes nothing more.
 *
 * Read defensively: a hand-edited or damaged lineage field is dropped, never a reason to
 * quarantine the item (its payload is still good), so readers go through `lineageOf`.
 */

/** The first failure's reason, in the shape of the envelope's own (its time is `firstTs`). */
export interface FirstReason {
  reason: string | null
  errorName?: string
  errorCode?: string
}

/** One failed attempt, as the envelope records its last one (`ts`, `attempt`, `reason`, `errorName`, `errorCode`). */
export interface Attempt extends FirstReason {
  ts: number
  attempt: number
}

/** Where an entry was written before it left that log (a ship): the host and the log's name. */
export interface Origin {
  host: string
  log: string
}

/** The lineage fields of an envelope, an entry and a central row alike. */
export interface Lineage {
  /** The reason the item first failed with; absent while the current reason is the first. */
  firstReason?: FirstReason
  /** Earlier attempts, oldest first, the current one (the envelope's own fields) excluded; at most HISTORY_LIMIT. */
  history?: Attempt[]
  /** How many times a requeue moved it back to the retry log; absent for 0. */
  redrives?: number
  /** Absent while the entry sits in the log it was written to. */
  origin?: Origin
  /** The stack of the current failure (the envelope's own reason), when `keepStack` was on; at most `maxStackBytes`. */
  stack?: string
}

/** Earlier attempts kept: a record stays bounded however often it fails (the first stays in firstReason). */
export const HISTORY_LIMIT = 5

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const optStr = (v: unknown): boolean => v === undefined || typeof v === 'string'

function reasonParts<T extends FirstReason>(to: T, o: Record<string, unknown>): T | undefined {
  if (o.reason !== null && typeof o.reason !== 'string') return undefined
  if (!optStr(o.errorName) || !optStr(o.errorCode)) return undefined
  to.reason = o.reason
  if (o.errorName !== undefined) to.errorName = o.errorName as string
  if (o.errorCode !== undefined) to.errorCode = o.errorCode as string
  return to
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function firstReasonOf(v: unknown): FirstReason | undefined {
  return isObject(v) ? reasonParts({ reason: null }, v) : undefined
}

function attemptOf(v: unknown): Attempt | undefined {
  if (!isObject(v) || typeof v.ts !== 'number' || !Number.isFinite(v.ts) || !isCount(v.attempt)) return undefined
  return reasonParts({ ts: v.ts, attempt: v.attempt, reason: null }, v)
}

/** The lineage fields of anything read (an envelope, a row's columns, a listing), unchecked. */
type LineageInput = { [K in keyof Lineage]?: unknown }

/**
 * Copy the well-formed lineage fields of `from` (an envelope, a row's columns, a listing) onto
 * `to`; a malformed one is left out, and so is a history item that is not an attempt.
 */
export function copyLineage<T extends object>(to: T, from: LineageInput): T & Lineage {
  const out = to as T & Lineage
  if (from.firstReason !== undefined) {
    const f = firstReasonOf(from.firstReason)
    if (f) out.firstReason = f
  }
  if (Array.isArray(from.history) && from.history.length > 0) {
    const h: Attempt[] = []
    for (const item of from.history.slice(-HISTORY_LIMIT)) {
      const a = attemptOf(item)
      if (a) h.push(a)
    }
    if (h.length > 0) out.history = h
  }
  if (isCount(from.redrives) && from.redrives > 0) out.redrives = from.redrives
  const o = from.origin
  if (isObject(o) && typeof o.host === 'string' && typeof o.log === 'string') out.origin = { host: o.host, log: o.log }
  if (typeof from.stack === 'string') out.stack = from.stack
  return out
}

/** The envelope fields a failure is told by, its lineage as read (checked by copyLineage). */
type Failed = Attempt & LineageInput

/** The first reason of `e`: its recorded one, or its own reason when it has none (it is its first failure). */
export function firstOf(e: Failed): FirstReason {
  return firstReasonOf(e.firstReason) ?? reasonParts({ reason: null }, e as unknown as Record<string, unknown>) ?? { reason: e.reason }
}

/**
 * The lineage of the record written after `e` failed once more: its first reason made
 * explicit, its own attempt appended to the history (the oldest dropped beyond the limit),
 * and the stack of this failure (`stack`, when kept) in place of the earlier one's.
 */
export function afterAttempt<T extends object>(to: T, e: Failed, stack?: string): T & Lineage {
  const out = copyLineage(to, e)
  if (stack !== undefined) out.stack = stack
  // The earlier failure's stack is not this one's. (Deleted only when there: a delete changes the object's shape.)
  else if (out.stack !== undefined) delete out.stack
  out.firstReason = firstOf(e)
  const a: Attempt = { ts: e.ts, attempt: e.attempt, reason: e.reason }
  if (typeof e.errorName === 'string') a.errorName = e.errorName
  if (typeof e.errorCode === 'string') a.errorCode = e.errorCode
  const h = out.history ?? []
  h.push(a)
  out.history = h.length > HISTORY_LIMIT ? h.slice(-HISTORY_LIMIT) : h
  return out
}

/**
 * The lineage an entry leaving its log takes along (a repair): its origin written down, this
 * host and log, unless it already came from elsewhere (then that origin stays).
 */
export function leaving<T extends Lineage>(to: T, origin: Origin): T {
  if (to.origin === undefined) to.origin = { host: origin.host, log: origin.log }
  return to
}

/** The reason `stats` groups `e` by: its last reason, or with 'first' the one it first failed with. */
export function groupedReason(e: Failed, by: 'first' | 'last'): string | null {
  return by === 'first' ? firstOf(e).reason : e.reason
}

/** The redrive count of `e` (0 when it has none). */
export function redrivesOf(e: { redrives?: unknown }): number {
  return isCount(e.redrives) ? e.redrives : 0
}

/** A step of an entry's timeline; `attempt` is null for a first failure known only by its reason. */
export interface TimelineStep extends Omit<Attempt, 'attempt'> {
  attempt: number | null
  step: 'first' | 'earlier' | 'current'
}

/**
 * The attempts of an entry, oldest first, for a timeline: the first failure (when the
 * history no longer starts with it), the history, then the current attempt.
 */
export function timelineOf(e: Failed & { firstTs?: number }): TimelineStep[] {
  const l = copyLineage({}, e)
  const out: TimelineStep[] = []
  const history = l.history ?? []
  const firstTs = e.firstTs ?? e.ts
  if (l.firstReason && (history.length === 0 || history[0]!.ts !== firstTs)) out.push({ ...l.firstReason, ts: firstTs, attempt: null, step: 'first' })
  for (const a of history) out.push({ ...a, step: 'earlier' })
  const current: TimelineStep = { ts: e.ts, attempt: e.attempt, reason: e.reason, step: 'current' }
  if (typeof e.errorName === 'string') current.errorName = e.errorName
  if (typeof e.errorCode === 'string') current.errorCode = e.errorCode
  out.push(current)
  return out
}
