/**
 * Option checks: each validates one option by name and returns its value, or throws
 * DLQ_INVALID_OPTION naming the option; checkOptions() runs them over an options object and
 * rejects unknown keys (a typo such as `reasons:` would otherwise widen a purge to everything).
 */
import { DeadLetterError, invalidOption } from './errors.js'
import { parseDuration, parseSize } from './options.js'

export type Check<T> = (name: string, value: unknown) => T

export const bool: Check<boolean> = (name, v) => {
  if (typeof v !== 'boolean') throw invalidOption(name, 'true or false', v)
  return v
}

export const int =
  (min: number): Check<number> =>
  (name, v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalidOption(name, `an integer >= ${min}`, v)
    return v
  }

export const oneOf =
  <T extends string>(...values: T[]): Check<T> =>
  (name, v) => {
    if (typeof v !== 'string' || !(values as string[]).includes(v)) throw invalidOption(name, values.map((x) => `'${x}'`).join(' or '), v)
    return v as T
  }

export const fn: Check<(...args: never[]) => unknown> = (name, v) => {
  if (typeof v !== 'function') throw invalidOption(name, 'a function', v)
  return v as (...args: never[]) => unknown
}

export const signal: Check<AbortSignal> = (name, v) => {
  if (!(v instanceof AbortSignal)) throw invalidOption(name, 'an AbortSignal', v)
  return v
}

export const duration: Check<number> = (name, v) => {
  if (typeof v !== 'number' && typeof v !== 'string') throw invalidOption(name, 'a duration (ms or "30s")', v)
  try {
    return parseDuration(v)
  } catch (err) {
    throw invalidOption(name, `a duration (${(err as Error).message})`, v)
  }
}

export const recordSize: Check<number> = (name, v) => {
  if (typeof v !== 'number' && typeof v !== 'string') throw invalidOption(name, 'a size (bytes or "32MiB")', v)
  let n: number
  try {
    n = parseSize(v)
  } catch (err) {
    throw invalidOption(name, `a size (${(err as Error).message})`, v)
  }
  if (n < 64) throw invalidOption(name, 'at least 64 bytes', v)
  return n
}

/**
 * Check `input` against `checks`, key by key. Keys in `passThrough` (the filter's) are left
 * for their own validation. Returns the checked values; undefined values count as absent.
 */
export function checkOptions<C extends Record<string, Check<unknown>>>(
  what: string,
  input: unknown,
  checks: C,
  passThrough: readonly string[] = [],
): { [K in keyof C]?: ReturnType<C[K]> } {
  if (input === undefined || input === null) return {}
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: ${what}() options must be an object, got ${Array.isArray(input) ? 'an array' : typeof input}`)
  }
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(input)) {
    if (passThrough.includes(key)) continue
    if (!Object.prototype.hasOwnProperty.call(checks, key)) {
      const known = [...Object.keys(checks), ...passThrough].sort().join(', ')
      throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: unknown ${what}() option \`${key}\` (known: ${known})`)
    }
    if (value === undefined) continue
    out[key] = checks[key](key, value)
  }
  return out as { [K in keyof C]?: ReturnType<C[K]> }
}
