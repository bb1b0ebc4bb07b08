/**
 * The one rule book for options: a check per kind of value, and resolveOptions() to run a
 * table of them over an options object. Every entry point (Logger, replay, the admin
 * functions, PostgresStore, serve, logCounts and the CLI's flags) goes through here, so the
 * same bad value gets the same code and message everywhere, and a duration that drives a
 * timer is capped everywhere. Unknown keys are rejected: a typo such as `reasons:` would
 * otherwise widen a purge to everything.
 */
import { DeadLetterError, describe, invalidOption } from './errors.js'

/** Validates one option by name and returns its value, or throws DLQ_INVALID_OPTION naming it. */
export type Check<T> = (name: string, value: unknown) => T

// ----------------------------------------------------------------------------- parsers

const MiB = 1024 * 1024
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: MiB, mb: MiB, mib: MiB, g: 1024 * MiB, gb: 1024 * MiB, gib: 1024 * MiB }
const AMOUNT = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i

function invalid(text: string): DeadLetterError {
  return new DeadLetterError('DLQ_INVALID_OPTION', `dlq: ${text}`)
}

/** '1500', '1.5s', '30m', '72h', '30d' → milliseconds. */
export function parseDuration(input: number | string): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw invalid(`invalid duration ${input}`)
    return input
  }
  const m = AMOUNT.exec(input)
  if (!m) throw invalid(`invalid duration ${JSON.stringify(input)} (examples: 500ms, 30s, 15m, 72h, 30d)`)
  const mult = DURATION_UNITS[(m[2] || 'ms').toLowerCase()]
  if (mult === undefined) throw invalid(`invalid duration unit ${JSON.stringify(m[2])} in ${JSON.stringify(input)} (use ms, s, m, h, d, w)`)
  return Math.round(Number(m[1]) * mult)
}

/** '4096', '64K', '16MiB', '1G' → bytes (binary units). */
export function parseSize(input: number | string): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw invalid(`invalid size ${input}`)
    return input
  }
  const m = AMOUNT.exec(input)
  if (!m) throw invalid(`invalid size ${JSON.stringify(input)} (examples: 512K, 64M, 1G)`)
  const mult = SIZE_UNITS[(m[2] || 'b').toLowerCase()]
  if (mult === undefined) throw invalid(`invalid size unit ${JSON.stringify(m[2])} in ${JSON.stringify(input)} (use B, K, M, G)`)
  const bytes = Math.floor(Number(m[1]) * mult)
  if (!Number.isSafeInteger(bytes)) throw invalid(`invalid size ${JSON.stringify(input)} (too large)`)
  return bytes
}

/** A rotation interval: `num` of `unit` (seconds, minutes, hours, days, months). */
export interface RotationInterval {
  num: number
  unit: 's' | 'm' | 'h' | 'd' | 'M'
}

/**
 * `'30s'`, `'5m'`, `'1h'`, `'1d'`, `'1M'`; undefined when malformed. Seconds and minutes must
 * divide 60 and hours 24, so that every boundary falls on the same clock positions.
 */
export function parseRotationInterval(v: unknown): RotationInterval | undefined {
  const m = typeof v === 'string' ? /^(\d+)([smhdM])$/.exec(v) : null
  if (!m) return undefined
  const num = Number(m[1])
  const unit = m[2] as RotationInterval['unit']
  const ok = num > 0 && (unit === 's' || unit === 'm' ? 60 % num === 0 : unit === 'h' ? 24 % num === 0 : true)
  return ok ? { num, unit } : undefined
}

// ----------------------------------------------------------------------------- checks

export const bool: Check<boolean> = (name, v) => {
  if (typeof v !== 'boolean') throw invalidOption(name, 'true or false', v)
  return v
}

/** A safe integer in [min, max]. */
export const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check<number> =>
  (name, v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalidOption(name, `an integer >= ${min}`, v)
    if (v > max) throw invalidOption(name, `at most ${max}`, v)
    return v
  }

export const oneOf =
  <T extends string>(...values: T[]): Check<T> =>
  (name, v) => {
    if (!(values as unknown[]).includes(v)) throw invalidOption(name, `one of ${values.map((x) => `'${x}'`).join(', ')}`, v)
    return v as T
  }

/** A function; its signature is the caller's to type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const fn: Check<(...args: any[]) => any> = (name, v) => {
  if (typeof v !== 'function') throw invalidOption(name, 'a function', v)
  return v as () => unknown
}

export const signal: Check<AbortSignal> = (name, v) => {
  if (!(v instanceof AbortSignal)) throw invalidOption(name, 'an AbortSignal', v)
  return v
}

/** The subset of a pino logger we use; console-like objects work too. */
export interface LoggerLike {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

export const logger: Check<LoggerLike> = (name, v) => {
  const l = v as LoggerLike
  if (!l || typeof l.info !== 'function' || typeof l.warn !== 'function' || typeof l.error !== 'function') {
    throw invalidOption(name, 'a pino-compatible logger (info, warn, error methods)', v)
  }
  return l
}

export const object: Check<object> = (name, v) => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalidOption(name, 'an object', v)
  return v
}

export const str: Check<string> = (name, v) => {
  if (typeof v !== 'string' || v.trim() === '') throw invalidOption(name, 'a non-empty string', v)
  return v
}

export const strings: Check<string[]> = (name, v) => {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.trim() === '')) throw invalidOption(name, 'an array of non-empty strings', v)
  return [...v] as string[]
}

/**
 * A host's name as an entry's origin records it (and a central row's `host`): a non-empty
 * label without control characters, at most 255 characters (a DNS name's limit), so that it
 * costs every record that carries it little and prints on one line.
 */
export const hostName: Check<string> = (name, v) => {
  // eslint-disable-next-line no-control-regex
  if (typeof v !== 'string' || v.trim() === '' || v.length > 255 || /[\u0000-\u001f\u007f]/.test(v)) {
    throw invalidOption(name, 'a host name (1 to 255 characters, no control characters)', v)
  }
  return v
}

/** A point in time as epoch milliseconds (a clock reading, e.g. `now`). */
export const time: Check<number> = (name, v) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidOption(name, 'a time in epoch milliseconds', v)
  return v
}

/**
 * setTimeout and setInterval take at most 2^31−1 ms; Node runs a longer delay after 1 ms
 * instead (and prints a TimeoutOverflowWarning). Every option that ends up as a timer delay,
 * or bounds a wait made of timers, is checked against this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** An amount given as a number or text (`'30s'`, `'64M'`), parsed by `parse`, at most `max`. */
function amount(kind: string, example: string, parse: (v: number | string) => number, max: number, maxText: string): Check<number> {
  return (name, v) => {
    if (typeof v !== 'number' && typeof v !== 'string') throw invalidOption(name, `a ${kind} (${example})`, v)
    let n: number
    try {
      n = parse(v)
    } catch (err) {
      throw invalidOption(name, `a ${kind} (${(err as Error).message.replace(/^dlq: /, '')})`, v)
    }
    if (n > max) throw invalidOption(name, maxText, v)
    return n
  }
}

/**
 * A duration that is not a timer ends up added to a time: at most Number.MAX_SAFE_INTEGER ms,
 * so that the sum stays an exact integer (in a bigint column of the central store too).
 */
export const duration = amount('duration', 'ms or a string such as "30s"', parseDuration, Number.MAX_SAFE_INTEGER, `at most ${Number.MAX_SAFE_INTEGER} ms`)
export const timer = amount('duration', 'ms or a string such as "30s"', parseDuration, MAX_TIMER_MS, `at most ${MAX_TIMER_MS} ms (about 24.8 days)`)
export const size = amount('size', 'bytes or a string such as "64M"', parseSize, Number.MAX_SAFE_INTEGER, '')

/** `check`, and at least `least` (`unit` names it in the message). */
export const atLeast =
  (check: Check<number>, least: number, unit: string): Check<number> =>
  (name, v) => {
    const n = check(name, v)
    if (n < least) throw invalidOption(name, `at least ${least} ${unit}`, v)
    return n
  }

/** Largest line read or written: a line must hold at least an envelope. */
export const recordSize = atLeast(size, 64, 'bytes')

/** A mode that leaves the owner (this process) at least `need`: a log it cannot reopen is lost. */
const mode =
  (need: number, example: string): Check<number> =>
  (name, v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0o7777 || (v & need) !== need) {
      throw invalidOption(name, `a mode such as ${example} that gives the owner ${need === 0o700 ? 'rwx' : 'rw'}`, v)
    }
    return v
  }
export const fileMode = mode(0o600, '0o600')
export const dirMode = mode(0o700, '0o700')

export const rotateInterval: Check<string> = (name, v) => {
  if (!parseRotationInterval(v)) throw invalidOption(name, "an interval such as '30s', '5m', '1h', '1d' (s/m must divide 60, h must divide 24)", v)
  return v as string
}

// ----------------------------------------------------------------------------- objects

export type Checks<R> = { [K in keyof R]-?: Check<R[K]> }

/**
 * An options type as resolved: every key present, an amount given as a number or text
 * ('30s', '64M') parsed to a number; the keys in `Unset` have no default and stay undefined.
 */
export type Resolved<T, Unset extends keyof T = never> = {
  // `& string`: not the homomorphic `keyof T`, so that no key stays optional and Unset keeps its undefined.
  [K in keyof T & string]: (string | number extends NonNullable<T[K]> ? number : NonNullable<T[K]>) | (K extends Unset ? undefined : never)
}

/**
 * `defaults` overlaid with the checked values of `input` (an absent or undefined value keeps
 * its default). `what` names the call (`'stats'`, `'store.ship'`) in the message of a non-object and of an
 * unknown key, which lists the known ones. Keys in `passThrough` are left for a validation of
 * their own (a filter's, a replay's options inside startReplayer's).
 */
export function resolveOptions<R extends object>(what: string, input: unknown, defaults: Readonly<R>, checks: Checks<R>, passThrough: readonly string[] = []): R {
  if (input === undefined || input === null) return { ...defaults }
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid(`${what}() options must be an object, got ${describe(input)}`)
  const out: Record<string, unknown> = { ...defaults }
  const table = checks as Record<string, Check<unknown>>
  for (const [key, value] of Object.entries(input)) {
    if (passThrough.includes(key)) continue
    if (!Object.prototype.hasOwnProperty.call(table, key)) {
      throw invalid(`unknown ${what}() option \`${key}\` (known: ${[...Object.keys(table), ...passThrough].sort().join(', ')})`)
    }
    if (value !== undefined) out[key] = table[key](key, value)
  }
  return out as R
}

/** resolveOptions without defaults: the options given, checked. */
export function checkOptions<C extends Record<string, Check<unknown>>>(
  what: string,
  input: unknown,
  checks: C,
  passThrough: readonly string[] = [],
): { [K in keyof C]?: ReturnType<C[K]> } {
  return resolveOptions(what, input, {} as never, checks as never, passThrough)
}
