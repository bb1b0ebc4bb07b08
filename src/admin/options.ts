/**
 * Checking the options of the admin functions: each is validated once, by name, and an
 * unknown key is an error (a typo such as `reasons:` would otherwise widen a purge to
 * everything). Failures are DLQ_INVALID_OPTION naming the option.
 */
import fsp from 'node:fs/promises'
import { DeadLetterError, invalidOption } from '../base/errors.js'
import { parseDuration, parseSize, replayDefaults } from '../base/options.js'
import { type LogPaths, logPaths } from '../store/segments.js'

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

/** Options every admin function takes besides its own and the filter. */
export const commonChecks = { maxRecordSize: recordSize, signal }

export interface Common {
  maxRecordSize: number
  signal: AbortSignal | undefined
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

export function common(o: { maxRecordSize?: number; signal?: AbortSignal }): Common {
  return { maxRecordSize: o.maxRecordSize ?? replayDefaults.maxRecordSize, signal: o.signal }
}

/**
 * The log argument is the active file's path, as given to Logger.open. The file itself may
 * not exist (nothing failed yet, or it was rotated away); its directory must.
 */
export async function resolveLogPath(what: string, logPath: unknown): Promise<LogPaths> {
  if (typeof logPath !== 'string' || logPath.trim() === '') {
    throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${what}() needs the log file path, got ${typeof logPath === 'string' ? 'an empty string' : typeof logPath}`)
  }
  const st = await fsp.stat(logPath).catch(() => undefined)
  if (st?.isDirectory()) {
    throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${what}(): ${logPath} is a directory; pass the log file path (as given to Logger.open)`)
  }
  const paths = logPaths(logPath)
  let dir
  try {
    dir = await fsp.stat(paths.dir)
  } catch (err) {
    throw new DeadLetterError('DLQ_NOT_FOUND', `dlq: ${what}(): no such directory: ${paths.dir} (from log path ${logPath})`, { cause: err })
  }
  if (!dir.isDirectory()) throw new DeadLetterError('DLQ_NOT_FOUND', `dlq: ${what}(): ${paths.dir} is not a directory (from log path ${logPath})`)
  return paths
}

/** The rejection of an operation stopped by its signal. */
export function abortError(what: string, s: AbortSignal): DeadLetterError {
  return new DeadLetterError('DLQ_ABORTED', `dlq: ${what}() was aborted`, { cause: s.reason })
}
