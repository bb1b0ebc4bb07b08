/**
 * Turning whatever a caller passed as a reason, or a handler threw, into the short text an
 * envelope stores. A thrown value is arbitrary user data: its getters may throw, its
 * `toString` may throw, it may be a Proxy that throws on every trap, a cycle, or 20 MiB long.
 * None of that may stop a log() or a replay, and none of it may make a line so long that the
 * next replay takes a valid item for a corrupt one. So this never throws and never returns
 * more than MAX_REASON_LENGTH characters plus a short marker.
 */

/**
 * Longest reason kept, in characters (UTF-16 code units). Longer ones are cut to this length
 * and end in `… [truncated, <n> chars total]`. At worst (every character JSON-escaped as
 * `\uXXXX`) a reason takes about 48 KiB of a line.
 */
export const MAX_REASON_LENGTH = 8192

/** errorName and errorCode are labels (TypeError, ECONNRESET): cut much shorter. */
export const MAX_LABEL_LENGTH = 256

/** What an envelope records about a failure: the message, and the error's name and code. */
export interface ReasonParts {
  text: string | null
  errorName?: string
  errorCode?: string
}

/**
 * Cut `text` to `max` characters plus a visible marker. `total` is the full length when it is
 * known; null when it is not (a description that stopped early, e.g. of a huge array).
 */
export function truncateReason(text: string, max = MAX_REASON_LENGTH, total: number | null = text.length): string {
  if (total !== null && total <= max && text.length <= max) return text
  let cut = Math.min(max, text.length)
  // A lone high surrogate at the cut would be written as U+FFFD: keep the pair whole.
  const c = text.charCodeAt(cut - 1)
  if (c >= 0xd800 && c <= 0xdbff) cut--
  const marker = total === null ? '… [truncated]' : `… [truncated, ${total} chars total]`
  return text.slice(0, cut) + marker
}

/**
 * An Error gives its message (plus name when not plain `Error`, and a string `code` such as
 * ECONNRESET); a string is itself; null/undefined are recorded as null; anything else is
 * described as well as it lets itself be. Never throws.
 */
export function describeReason(reason: unknown): ReasonParts {
  try {
    return describeParts(reason)
  } catch {
    // A path not guarded below (an exotic host object): still a reason, never a crash.
    return { text: `[unprintable ${typeof reason}]` }
  }
}

function describeParts(reason: unknown): ReasonParts {
  if (reason === null || reason === undefined) return { text: null }
  if (typeof reason === 'string') return { text: truncateReason(reason) }
  if (typeof reason !== 'object' && typeof reason !== 'function') return { text: truncateReason(primitiveText(reason)) }
  const isErr = isError(reason)
  const parts: ReasonParts = { text: objectText(reason, isErr) }
  if (isErr) {
    const name = read(reason, 'name')
    if (typeof name === 'string' && name !== '' && name !== 'Error') parts.errorName = truncateReason(name, MAX_LABEL_LENGTH)
    const code = read(reason, 'code')
    if (typeof code === 'string') parts.errorCode = truncateReason(code, MAX_LABEL_LENGTH)
  }
  return parts
}

/** A property, or undefined when reading it throws (a throwing getter, a hostile Proxy). */
function read(obj: object, key: PropertyKey): unknown {
  try {
    return (obj as Record<PropertyKey, unknown>)[key]
  } catch {
    return undefined
  }
}

function isError(v: object): boolean {
  try {
    // instanceof walks the prototype chain: a Proxy's getPrototypeOf trap may throw.
    return v instanceof Error
  } catch {
    return false
  }
}

function primitiveText(v: unknown): string {
  // String() describes a Symbol without calling Symbol.prototype.toString, which may be replaced.
  return String(v)
}

function objectText(v: object, isErr: boolean): string {
  if (typeof v === 'function') {
    const name = read(v, 'name')
    return typeof name === 'string' && name !== '' ? `[function ${truncateReason(name, MAX_LABEL_LENGTH)}]` : '[function]'
  }
  const message = read(v, 'message')
  if (typeof message === 'string') return truncateReason(message)
  if (isErr) {
    // new Error() whose message was replaced by a non-string, or a getter that throws.
    const inner = message === null || message === undefined ? undefined : valueText(message)
    if (inner !== undefined) return inner
    const name = read(v, 'name')
    return `[${typeof name === 'string' && name !== '' ? truncateReason(name, MAX_LABEL_LENGTH) : 'Error'} without a readable message]`
  }
  return valueText(v) ?? '[unprintable object]'
}

/** Arrays longer than this are described item by item instead of joined whole. */
const MAX_JOINED_ITEMS = 1024

/**
 * What String() says (as replay always recorded: `[object Object]`, a custom toString, a
 * Date), unless it throws (a null-prototype object, a toString that throws, a hostile Proxy)
 * or would be huge: then a bounded JSON-like description.
 */
function valueText(v: unknown): string | undefined {
  if (typeof v === 'string') return truncateReason(v)
  if (typeof v === 'function') return '[function]'
  if (typeof v !== 'object' || v === null) return truncateReason(primitiveText(v))
  try {
    if (Array.isArray(v) && v.length > MAX_JOINED_ITEMS) return boundedJson(v)
    return truncateReason(String(v))
  } catch {
    return boundedJson(v)
  }
}

const STOP = Symbol('budget spent')
const MAX_DEPTH = 6

/**
 * A JSON-like rendering that stops once MAX_REASON_LENGTH characters are out: a 10-million
 * element array costs as much as a short one. Cycles print as [Circular]; a part that throws
 * when read prints as [unreadable]. Undefined when even the top level cannot be read.
 */
function boundedJson(root: object): string | undefined {
  const max = MAX_REASON_LENGTH
  let out = ''
  const seen = new Set<object>()
  const emit = (s: string): void => {
    out += s
    if (out.length > max) throw STOP
  }
  const value = (v: unknown, depth: number): void => {
    if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') emit(String(v))
    else if (typeof v === 'string') emit(JSON.stringify(v.length > max ? v.slice(0, max) : v))
    else if (typeof v === 'bigint') emit(`${String(v)}n`)
    else if (typeof v === 'symbol') emit(String(v))
    else if (typeof v === 'function') emit('[function]')
    else container(v as object, depth)
  }
  const container = (v: object, depth: number): void => {
    if (seen.has(v)) return emit('[Circular]')
    if (depth >= MAX_DEPTH) return emit('[…]')
    seen.add(v)
    const mark = out.length
    try {
      if (ArrayBuffer.isView(v)) emit(`[${v.constructor?.name ?? 'binary'} of ${v.byteLength} bytes]`)
      else if (Array.isArray(v)) {
        emit('[')
        const n = v.length
        for (let i = 0; i < n; i++) {
          if (i > 0) emit(',')
          value(read(v, i), depth + 1)
        }
        emit(']')
      } else {
        emit('{')
        let first = true
        for (const k of Object.keys(v)) {
          if (!first) emit(',')
          first = false
          emit(`${JSON.stringify(k)}:`)
          value(read(v, k), depth + 1)
        }
        emit('}')
      }
    } catch (err) {
      if (err === STOP) throw err
      // Listing the keys threw (a Proxy's ownKeys trap): this part is unreadable, the rest is not.
      out = out.slice(0, mark)
      emit('[unreadable]')
    } finally {
      seen.delete(v)
    }
  }
  try {
    container(root, 0)
  } catch (err) {
    if (err !== STOP) return undefined
    return truncateReason(out, max, null)
  }
  return out === '[unreadable]' ? undefined : out
}

/**
 * The stack of an Error `reason`, cut to `maxBytes` UTF-8 bytes (marker included) when longer;
 * undefined for anything that is not an Error or has no string stack. Never throws: the
 * `stack` of a thrown value is as much user data as its message.
 */
export function describeStack(reason: unknown, maxBytes: number): string | undefined {
  if (reason === null || typeof reason !== 'object') return undefined
  try {
    if (!isError(reason)) return undefined
    const stack = read(reason, 'stack')
    return typeof stack === 'string' ? capBytes(stack, maxBytes) : undefined
  } catch {
    return undefined
  }
}

/** `text` in at most `maxBytes` UTF-8 bytes: cut on a character boundary and marked when longer. */
export function capBytes(text: string, maxBytes: number): string {
  // A character is at most 3 UTF-8 bytes per UTF-16 unit: short texts need no counting.
  if (text.length * 3 <= maxBytes) return text
  const buf = Buffer.from(text, 'utf8')
  if (buf.length <= maxBytes) return text
  const marker = `… [truncated, ${buf.length} bytes total]`
  let end = Math.max(0, maxBytes - Buffer.byteLength(marker))
  // Back to the start of a character: never half of one (decoded as U+FFFD).
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--
  return buf.toString('utf8', 0, end) + marker
}
