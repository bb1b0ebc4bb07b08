/**
 * The trace context an envelope carries, as text: the W3C `traceparent` (`tp`), `tracestate`
 * (`tpState`) and, only when asked for, `baggage`. These are the formats of the W3C Trace
 * Context and Baggage recommendations, so a file read by hand (or by another tool) says what
 * any tracing backend would; they need no OpenTelemetry package (see trace.ts for that).
 */

/** The envelope fields of a captured trace context. */
export interface TraceContext {
  /** W3C traceparent: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`. */
  tp: string
  /** W3C tracestate, when the span context had one. */
  tpState?: string
  /** W3C baggage, only with the Logger option `traceBaggage: true`. */
  baggage?: string
}

/**
 * Copy the trace fields of `from` onto `to` (a re-log, a requeue, a row): the context captured
 * when the item first failed stays with it whatever happens to it later. Only strings are
 * copied, as they are (what replay cannot use it reports when it replays the item), and only
 * with a `tp`: the other two belong to it.
 */
export function copyTrace<T extends object>(to: T, from: { tp?: unknown; tpState?: unknown; baggage?: unknown }): T & Partial<TraceContext> {
  const out = to as T & Partial<TraceContext>
  if (typeof from.tp !== 'string') return out
  out.tp = from.tp
  if (typeof from.tpState === 'string') out.tpState = from.tpState
  if (typeof from.baggage === 'string') out.baggage = from.baggage
  return out
}

export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`
}

export interface ParsedTraceparent {
  traceId: string
  spanId: string
  traceFlags: number
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const ZEROS = /^0+$/

/** The traceparent's parts, or why it is not one (W3C Trace Context, level 1 and later versions). */
export function parseTraceparent(tp: unknown): ParsedTraceparent | string {
  if (typeof tp !== 'string') return `"tp" is not a string`
  const m = TRACEPARENT.exec(tp)
  if (m === null) return `"tp" is not a W3C traceparent`
  const [, version, traceId, spanId, flags, rest] = m
  if (version === 'ff') return `"tp" has the invalid version ff`
  if (version === '00' && rest !== undefined) return `"tp" (version 00) has extra fields`
  if (ZEROS.test(traceId!)) return `"tp" has an all-zero trace id`
  if (ZEROS.test(spanId!)) return `"tp" has an all-zero span id`
  return { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags!, 16) }
}

// The limits OpenTelemetry's own W3C baggage propagator applies.
const BAGGAGE_MAX_ENTRIES = 180
const BAGGAGE_MAX_PAIR = 4096
const BAGGAGE_MAX_TOTAL = 8192

export interface BaggageItem {
  key: string
  value: string
  /** The entry's properties, as W3C text (`;`-separated). */
  metadata?: string
}

/** W3C baggage text of `items`: entries past the W3C limits are left out. Empty when none fits. */
export function formatBaggage(items: Iterable<BaggageItem>): string {
  let out = ''
  let n = 0
  for (const it of items) {
    if (n === BAGGAGE_MAX_ENTRIES) break
    let pair = `${encodeURIComponent(it.key)}=${encodeURIComponent(it.value)}`
    if (it.metadata !== undefined && it.metadata !== '') pair += `;${it.metadata}`
    if (pair.length > BAGGAGE_MAX_PAIR || out.length + pair.length + 1 > BAGGAGE_MAX_TOTAL) continue
    out += (n === 0 ? '' : ',') + pair
    n++
  }
  return out
}

/** The entries of W3C baggage text, or why it is not baggage. */
export function parseBaggage(text: unknown): BaggageItem[] | string {
  if (typeof text !== 'string') return `"baggage" is not a string`
  const items: BaggageItem[] = []
  for (const member of text.split(',')) {
    if (member.trim() === '') continue
    const semi = member.indexOf(';')
    const pair = semi === -1 ? member : member.slice(0, semi)
    const eq = pair.indexOf('=')
    if (eq <= 0) return `"baggage" has a member without key=value`
    let key: string
    let value: string
    try {
      key = decodeURIComponent(pair.slice(0, eq).trim())
      value = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      return `"baggage" has a badly percent-encoded member`
    }
    if (key === '') return `"baggage" has a member with an empty key`
    const item: BaggageItem = { key, value }
    if (semi !== -1) item.metadata = member.slice(semi + 1).trim()
    items.push(item)
  }
  return items
}
