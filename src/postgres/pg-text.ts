/**
 * What PostgreSQL text and jsonb columns can hold. Text there is UTF-8 without U+0000, and a
 * JavaScript string is UTF-16 that may carry a lone surrogate (an emoji cut in half by
 * `.slice()`): neither is representable, and one such character in a batch fails the whole
 * statement. Every string the store writes (shipping, settling, requeue) goes through here.
 *
 * jsonb refuses more JSON than JavaScript's JSON.parse does (measured on PostgreSQL 15.18,
 * default `max_stack_depth` of 2MB, and on PGlite):
 * - the escapes `\u0000` (22P05) and a lone surrogate such as `\ud83d` (22P02);
 * - numbers its `numeric` cannot hold (22003): 131,072 or more integer digits (1e131072),
 *   more than 16,383 digits after the point (1e-16384, 0e-16384), exponents past ±2^30;
 * - nesting past the server's stack (54001): 13,099 objects or 14,554 arrays deep on
 *   PostgreSQL with the default 2MB, 5,453 objects on PGlite, under 700 arrays with the
 *   smallest `max_stack_depth` (100kB).
 * `jsonbRefusal` answers conservatively, well inside those limits (a payload it sends
 * elsewhere is still stored whole, as text); what a server configured tighter still refuses
 * is caught by the shipper isolating the rows the server rejects (src/postgres/insert.ts).
 */

interface WellFormed {
  isWellFormed(): boolean
  toWellFormed(): string
}

/** `s` with U+0000 and lone surrogates replaced by U+FFFD (unchanged, and not copied, when clean). */
export function pgText(s: string): string {
  let out = s
  if (!(out as unknown as WellFormed).isWellFormed()) out = (out as unknown as WellFormed).toWellFormed()
  return out.includes('\u0000') ? out.replace(/\u0000/g, '\uFFFD') : out
}

export function pgTextOrNull(s: string | null | undefined): string | null {
  return s === null || s === undefined ? null : pgText(s)
}

/** Deepest nesting sent as jsonb: a fifth of PGlite's limit, a thirteenth of PostgreSQL's default. */
export const JSONB_MAX_DEPTH = 1000
/** Numbers sent as jsonb have fewer digits than this before and after the point… */
const MAX_DIGITS = 1000
/** …and an exponent of at most four digits: then 1000 + 9999 digits stay far inside numeric's 16,383 / 131,072. */
const MAX_EXPONENT = 9999

/*
 * Every JSON text jsonb might refuse has one of these: an escape of U+0000 or of a surrogate,
 * an exponent of five or more digits, a run of MAX_DIGITS digits, or more than
 * JSONB_MAX_DEPTH opening brackets. A hit only means "look closer" (scan). Native searches
 * only, each written so the regular-expression engine rejects most positions at once: this
 * runs for every shipped entry.
 */
const ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/
const LONG_EXPONENT = /[0-9][eE][-+]?[0-9][0-9][0-9][0-9][0-9]/
const LONG_DIGITS = new RegExp(`(?<![0-9])[0-9]{${MAX_DIGITS}}`)

/**
 * Why jsonb would refuse this JSON text (valid JSON, as JSON.parse accepted it), or
 * undefined when it can hold it.
 */
export function jsonbRefusal(json: string): string | undefined {
  const suspect =
    (json.includes('\\u') && ESCAPE.test(json)) ||
    LONG_EXPONENT.test(json) ||
    (json.length >= MAX_DIGITS && LONG_DIGITS.test(json)) ||
    (json.length > 2 * JSONB_MAX_DEPTH && opensMoreThan(json, JSONB_MAX_DEPTH))
  return suspect ? scan(json) : undefined
}

/** More than `limit` `{` and `[` in all (strings included): nesting deeper than `limit` needs as many. */
function opensMoreThan(json: string, limit: number): boolean {
  let n = 0
  for (let i = json.indexOf('{'); i !== -1 && n <= limit; i = json.indexOf('{', i + 1)) n++
  for (let i = json.indexOf('['); i !== -1 && n <= limit; i = json.indexOf('[', i + 1)) n++
  return n > limit
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const OPEN_OBJECT = 0x7b
const CLOSE_ARRAY = 0x5d
const CLOSE_OBJECT = 0x7d
const MINUS = 0x2d
const DOT = 0x2e
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

function scan(json: string): string | undefined {
  const n = json.length
  let depth = 0
  // Where the next backslash is: strings are skipped with indexOf, and only the escapes in
  // them are looked at, one by one.
  let nextBackslash = json.indexOf('\\')
  if (nextBackslash === -1) nextBackslash = n
  for (let i = 0; i < n; i++) {
    const c = json.charCodeAt(i)
    if (c === QUOTE) {
      for (i++; ; ) {
        if (nextBackslash < i) {
          nextBackslash = json.indexOf('\\', i)
          if (nextBackslash === -1) nextBackslash = n
        }
        const q = json.indexOf('"', i)
        if (q === -1) return undefined
        if (q < nextBackslash) {
          i = q
          break
        }
        const at = nextBackslash
        i = at + 2
        if (json.charCodeAt(at + 1) !== 0x75) continue
        i = at + 6
        const unit = parseInt(json.slice(at + 2, at + 6), 16)
        if (unit === 0) return 'a \\u0000 escape'
        if (unit >= 0xdc00 && unit <= 0xdfff) return `a lone surrogate escape (\\u${unit.toString(16)})`
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = json.charCodeAt(i) === BACKSLASH && json.charCodeAt(i + 1) === 0x75 ? parseInt(json.slice(i + 2, i + 6), 16) : -1
          if (!(low >= 0xdc00 && low <= 0xdfff)) return `a lone surrogate escape (\\u${unit.toString(16)})`
          i += 6
        }
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > JSONB_MAX_DEPTH) return `nesting deeper than ${JSONB_MAX_DEPTH} levels`
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--
    } else if (c === MINUS || isDigit(c)) {
      const start = i
      if (c === MINUS) i++
      let digits = 0
      while (isDigit(json.charCodeAt(i))) i++, digits++
      let fraction = 0
      if (json.charCodeAt(i) === DOT) {
        i++
        while (isDigit(json.charCodeAt(i))) i++, fraction++
      }
      let exponentDigits = 0
      let exponent = 0
      if ((json.charCodeAt(i) | 0x20) === 0x65) {
        i++
        if (json.charCodeAt(i) === MINUS || json.charCodeAt(i) === 0x2b) i++
        for (; isDigit(json.charCodeAt(i)); i++) {
          // Leading zeros do not count; past five significant digits the value no longer matters.
          if (exponentDigits > 0 || json.charCodeAt(i) !== 0x30) exponentDigits++
          if (exponentDigits <= 5) exponent = exponent * 10 + json.charCodeAt(i) - 0x30
        }
      }
      if (digits >= MAX_DIGITS || fraction >= MAX_DIGITS || exponent > MAX_EXPONENT) {
        const text = json.slice(start, i)
        return `a number beyond jsonb's numeric (${text.length > 40 ? `${text.slice(0, 20)}…, ${text.length} characters` : text})`
      }
      i--
    }
  }
  return undefined
}
