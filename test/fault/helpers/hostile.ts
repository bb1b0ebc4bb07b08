/**
 * The hostile values of the fleet soak, by category, each switchable with DLQ_SOAK_HOSTILE
 * (a comma list; `all`, the default, or `none` for ordinary entries only):
 *
 *   entries (what writers log, in payloads, reasons and ids):
 *     surrogate   lone UTF-16 surrogates (an emoji cut in half by `.slice()`), high and low
 *     nul         U+0000 in strings and object keys
 *     control     the other C0 controls, DEL, U+0085, U+2028/9, BOM, U+FFFE/U+FFFF
 *     nonbmp      astral-plane text (emoji, math letters, CJK extension B, U+10FFFF)
 *     bignum      RawPayload numbers no double holds: 1e200000, 1e-200000, -1e400, 40-digit integers
 *     deep        RawPayload arrays or objects nested 10,000–100,000 levels
 *     huge        payloads, reasons and ids near maxRecordSize (some just over: refused by log())
 *     attempt     attempt numbers past 2^31 (up to Number.MAX_SAFE_INTEGER)
 *   what central handlers throw:
 *     throw-nul        Errors (message, name, code) and strings with U+0000
 *     throw-surrogate  the same with lone surrogates
 *     throw-odd        non-Error values: numbers, null, undefined, symbols, BigInt, cycles,
 *                      Proxies that throw on every trap, throwing toString, 1 MiB strings
 *   operations:
 *     requeue-retry    requeue({ state: 'retry' }) ("retry these now") while workers hold leases
 *     purge-nostate    purge() without `state`
 *
 * Every entry carries a key (`SOAK-w<writer>-<n>`) at the start of its id, as `"id":"<key>.`,
 * so that it can be found by id in the table, in a corrupt row's raw text and in local files.
 */
import { PermanentError, RawPayload } from '../../../src/index.js'
import type { Rng } from '../../helpers/rng.js'

export const ENTRY_CATEGORIES = ['surrogate', 'nul', 'control', 'nonbmp', 'bignum', 'deep', 'huge', 'attempt'] as const
export const THROW_CATEGORIES = ['throw-nul', 'throw-surrogate', 'throw-odd'] as const
export const OP_CATEGORIES = ['requeue-retry', 'purge-nostate'] as const
export const ALL_CATEGORIES = [...ENTRY_CATEGORIES, ...THROW_CATEGORIES, ...OP_CATEGORIES] as const

export type EntryCategory = (typeof ENTRY_CATEGORIES)[number]
export type ThrowCategory = (typeof THROW_CATEGORIES)[number]
export type Category = (typeof ALL_CATEGORIES)[number]

/** The categories switched on by `raw` (DLQ_SOAK_HOSTILE); throws on an unknown name. */
export function hostileCategories(raw = process.env.DLQ_SOAK_HOSTILE): Set<Category> {
  const text = (raw ?? '').trim()
  if (text === '' || text === 'all') return new Set(ALL_CATEGORIES)
  if (text === 'none') return new Set()
  const out = new Set<Category>()
  for (const name of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (!(ALL_CATEGORIES as readonly string[]).includes(name)) {
      throw new Error(`DLQ_SOAK_HOSTILE: unknown category ${JSON.stringify(name)} (known: all, none, ${ALL_CATEGORIES.join(', ')})`)
    }
    out.add(name as Category)
  }
  return out
}

/** The key of an id or a line's text: `SOAK-w<writer>-<n>` as written before the first `.` of the id. */
export const KEY_IN_ID = /^SOAK-w\d+-\d+(?=\.)/
export const KEY_IN_LINE = /"id":"(SOAK-w\d+-\d+)\./

export function keyOfId(id: string | null | undefined): string | undefined {
  return id == null ? undefined : KEY_IN_ID.exec(id)?.[0]
}

export interface SoakEntry {
  key: string
  /** 'ordinary' or the hostile category it was drawn from. */
  category: EntryCategory | 'ordinary'
  payload: unknown
  reason: unknown
  id: string
  attempt: number
  /** Logged with logPermanent(). */
  permanent: boolean
}

const HALF_EMOJI = '😀'.slice(0, 1)
const SURROGATES = ['\ud83d', '\ude00', HALF_EMOJI, `ab\udc00cd`, '\udbff\udbff', `tail ${'🚀'.slice(1)}`]
const NULS = ['a\u0000b', '\u0000', '\u0000'.repeat(5), 'end\u0000']
const CONTROLS = [
  Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join(''),
  '\u007f\u0085\u2028\u2029',
  '\ufeffbom',
  '\ufffe\uffff',
  'tab\there\r\nnewline',
]
const ASTRAL = ['𝕏𝕐ℤ', '😀🚀🏳️‍🌈', '𠀀𠀁𪚥', '\u{10FFFF}', '👩‍👩‍👧‍👦'.repeat(3)]
const ORDINARY_REASONS = ['timeout', 'ECONNRESET upstream', 'HTTP 503 from payments', 'quote " and \\ backslash', 'ünïcødé ✓']

/** The text-valued categories: strings to splice into payloads, reasons and ids. */
const TEXTS: Partial<Record<EntryCategory, string[]>> = { surrogate: SURROGATES, nul: NULS, control: CONTROLS, nonbmp: ASTRAL }

function bignumPayload(rng: Rng, key: string): unknown {
  const k = JSON.stringify(key)
  // Doubles at their limits go through JSON.stringify like any payload; the rest only a
  // RawPayload can carry.
  if (rng.chance(0.2)) return { k: key, max: Number.MAX_VALUE, min: Number.MIN_VALUE, negzero: -0, eps: Number.EPSILON, unsafe: 2 ** 53 + 2 }
  return new RawPayload(
    rng.pick([
      `{"k":${k},"amount":1e200000}`,
      `{"k":${k},"tiny":1e-200000}`,
      `{"k":${k},"neg":-1e400}`,
      `{"k":${k},"big":1234567890123456789012345678901234567890}`,
      `{"k":${k},"list":[1e200000,-1e200000,1e-400]}`,
      `{"k":${k},"max":1.7976931348623157e308,"min":5e-324,"negzero":-0,"safe":9007199254740993}`,
    ]),
  )
}

/** Nested 10,000–100,000 levels, as deep as fits under maxRecordSize. */
function deepPayload(rng: Rng, key: string, maxRecordSize: number): RawPayload {
  const arrays = rng.chance(0.5)
  const perLevel = arrays ? 2 : 6
  const depth = Math.min(rng.int(10_000, 100_000), Math.floor((maxRecordSize - 1024) / perLevel))
  const inner = arrays ? '['.repeat(depth) + '0' + ']'.repeat(depth) : '{"a":'.repeat(depth) + '0' + '}'.repeat(depth)
  return new RawPayload(`{"k":${JSON.stringify(key)},"d":${inner}}`)
}

/** A string whose JSON encoding takes about `bytes` bytes. */
function filler(rng: Rng, bytes: number): string {
  // Per character: 1 byte, 2 bytes (é), 4 bytes (an astral pair), 6 bytes (an escaped control).
  const [ch, size] = rng.pick([['x', 1], ['é', 2], ['😀', 4], ['\u0001', 6]] as const)
  return ch.repeat(Math.max(0, Math.floor(bytes / size)))
}

/** The bytes of the entry's line without its filler, near enough (the writer's ts has 13 digits). */
function lineBytes(e: SoakEntry): number {
  const r = e.reason as { message?: string; code?: string } | string
  const env = typeof r === 'string' ? { reason: r } : { reason: r.message, errorCode: r.code }
  return Buffer.byteLength(JSON.stringify({ ts: 1_700_000_000_000, attempt: e.attempt, ...env, id: e.id, payload: e.payload })) + 1
}

/**
 * Entry `n` of writer `w`. About 30% are hostile (spread over the enabled entry categories),
 * the rest ordinary; 10% are logged as permanent.
 */
export function makeEntry(rng: Rng, w: number, n: number, cats: Set<Category>, maxRecordSize: number): SoakEntry {
  const key = `SOAK-w${w}-${n}`
  const enabled = ENTRY_CATEGORIES.filter((c) => cats.has(c))
  const entry: SoakEntry = {
    key,
    category: 'ordinary',
    payload: { k: key, n, items: [{ sku: `A-${n % 97}`, qty: (n % 5) + 1, price: (n % 1000) / 100 }], note: rng.pick(['', 'plain', 'ünïcødé ✓', 'quote " \\']) },
    reason: rng.chance(0.5) ? rng.pick(ORDINARY_REASONS) : Object.assign(new Error(rng.pick(ORDINARY_REASONS)), { code: 'ECONNRESET' }),
    id: `${key}.order-${n}`,
    attempt: rng.chance(0.9) ? 1 : rng.int(2, 3),
    permanent: rng.chance(0.1),
  }
  if (enabled.length === 0 || !rng.chance(0.3)) return entry
  // The expensive ones (deep, huge) are drawn less often.
  const weighted = enabled.flatMap((c) => (c === 'deep' || c === 'huge' ? [c] : [c, c, c]))
  const cat = rng.pick(weighted)
  entry.category = cat
  switch (cat) {
    case 'bignum':
      entry.payload = bignumPayload(rng, key)
      return entry
    case 'deep':
      entry.payload = deepPayload(rng, key, maxRecordSize)
      return entry
    case 'attempt':
      entry.attempt = rng.pick([2 ** 31 - 1, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER])
      return entry
    case 'huge': {
      const where = rng.pick(['payload', 'payload', 'id', 'reason'] as const)
      // Aim at the limit from both sides: most land within a few hundred bytes under it, some
      // on it, some just over (log() refuses those). A reason is cut to 8192 characters by
      // log(), so a huge one tests that cut instead.
      if (where === 'reason') {
        entry.reason = rng.chance(0.5) ? filler(rng, maxRecordSize) : new Error(filler(rng, maxRecordSize))
        return entry
      }
      const room = maxRecordSize - lineBytes(entry) + rng.int(-300, 100)
      if (where === 'payload') entry.payload = { k: key, s: filler(rng, room) }
      else entry.id = `${key}.${filler(rng, room)}`
      return entry
    }
    default: {
      const text = () => rng.pick(TEXTS[cat]!)
      // One or more of: a payload value, a payload key, the reason (string or Error), the id.
      const places = new Set([rng.pick(['value', 'key', 'reason', 'error', 'id'] as const)])
      if (rng.chance(0.3)) places.add(rng.pick(['value', 'key', 'reason', 'error', 'id'] as const))
      if (places.has('value') || places.has('key')) {
        const p: Record<string, unknown> = { k: key, n }
        if (places.has('value')) p.s = `before ${text()} after`
        if (places.has('key')) p[`key ${text()}`] = [text(), { nested: text() }]
        entry.payload = p
      }
      if (places.has('reason')) entry.reason = `failed: ${text()}`
      if (places.has('error')) entry.reason = Object.assign(new Error(`failed: ${text()}`), { code: `E${text()}` })
      if (places.has('id')) entry.id = `${key}.${text()}`
      return entry
    }
  }
}

// ---------------------------------------------------------------------------- handlers

/** What the central handler does with an entry, fixed by its key (so kills and restarts do not change it). */
export type HandlerClass = 'ok' | 'slow' | 'flaky' | 'doomed' | 'permanent'

export function handlerClassOf(key: string): HandlerClass {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  const r = (h >>> 0) % 100
  if (r < 55) return 'ok'
  if (r < 65) return 'slow'
  if (r < 80) return 'flaky'
  if (r < 90) return 'doomed'
  return 'permanent'
}

function throwingProxy(): object {
  const boom = () => {
    throw new Error('proxy trap')
  }
  return new Proxy({}, { get: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, getPrototypeOf: boom })
}

/** A value for the handler to throw: an ordinary Error unless a throw-* category is on. */
export function thrownValue(rng: Rng, cats: Set<Category>, permanent: boolean): unknown {
  const enabled = THROW_CATEGORIES.filter((c) => cats.has(c))
  const cat = enabled.length > 0 && rng.chance(0.7) ? rng.pick(enabled) : undefined
  const make = (msg: string) => (permanent ? new PermanentError(msg) : new Error(msg))
  switch (cat) {
    case 'throw-nul':
      return rng.pick([
        () => make('bad\u0000byte'),
        () => Object.assign(make('code with nul'), { code: 'E\u0000NUL' }),
        () => Object.assign(make('name with nul'), { name: permanent ? 'PermanentError' : 'Bad\u0000Name' }),
        () => (permanent ? make('\u0000') : 'thrown string \u0000 with nul'),
      ])()
    case 'throw-surrogate':
      return rng.pick([
        () => make(`half an emoji ${HALF_EMOJI}`),
        () => Object.assign(make('code with surrogate'), { code: '\udc00' }),
        () => (permanent ? make('\ud800\ud800') : `thrown string ${HALF_EMOJI}`),
      ])()
    case 'throw-odd':
      if (permanent) return make(`permanent, odd: ${'z'.repeat(rng.int(0, 100_000))}`)
      return rng.pick<() => unknown>([
        () => 42,
        () => null,
        () => undefined,
        () => Symbol('thrown symbol'),
        () => 10n ** 30n,
        () => {
          const o: Record<string, unknown> = { a: 1 }
          o.self = o
          return o
        },
        () => throwingProxy(),
        () => ({
          toString() {
            throw new Error('toString throws')
          },
        }),
        () => 'x'.repeat(1 << 20),
        () => Object.create(null),
        () => [1, [2, [3, [4]]]],
        () => new AggregateError([new Error('one'), 'two'], 'many'),
      ])()
    default:
      return make(permanent ? 'rejected for good' : 'upstream unavailable')
  }
}
