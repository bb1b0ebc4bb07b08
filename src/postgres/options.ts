/**
 * Options of the central store, validated once with the option's name in the message;
 * unknown options are rejected (a typo must not silently fall back to a default).
 */
import os from 'node:os'
import { DeadLetterError, describe, invalidOption } from '../base/errors.js'
import type { TraceParentMode } from '../base/trace.js'
import { oneOf } from '../base/checks.js'
import { fileMode, type LoggerLike, parseDuration, parseSize, replayDefaults, settleBackoffWaits, timerDuration } from '../base/options.js'

type Check = (name: string, v: unknown) => unknown

/**
 * A duration the store turns into a time in a bigint column (due times, `ttl`, `olderThan`):
 * at most Number.MAX_SAFE_INTEGER ms, so that time plus it is still an exact integer there.
 * A duration that drives a timer is checked by `timer` instead, as the local options are.
 */
export function boundedDuration(name: string, v: unknown): number {
  let ms: number
  try {
    if (typeof v !== 'number' && typeof v !== 'string') throw new Error()
    ms = parseDuration(v)
  } catch {
    throw invalidOption(name, 'a duration (ms or a string such as "30s")', v)
  }
  if (ms > Number.MAX_SAFE_INTEGER) throw invalidOption(name, `at most ${Number.MAX_SAFE_INTEGER} ms`, v)
  return ms
}
const duration: Check = boundedDuration
const timer: Check = timerDuration
/** The `attempt` column is a PostgreSQL integer. */
const MAX_ATTEMPTS = 2 ** 31 - 1
const size: Check = (name, v) => {
  try {
    if (typeof v !== 'number' && typeof v !== 'string') throw new Error()
    return parseSize(v)
  } catch {
    throw invalidOption(name, 'a size (bytes or a string such as "16MiB")', v)
  }
}
const int = (min: number): Check => (name, v) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalidOption(name, `an integer >= ${min}`, v)
  return v
}
const str: Check = (name, v) => {
  if (typeof v !== 'string' || v.length === 0) throw invalidOption(name, 'a non-empty string', v)
  return v
}
const bool: Check = (name, v) => {
  if (typeof v !== 'boolean') throw invalidOption(name, 'true or false', v)
  return v
}
const signal: Check = (name, v) => {
  if (!(v instanceof AbortSignal)) throw invalidOption(name, 'an AbortSignal', v)
  return v
}
const fn: Check = (name, v) => {
  if (typeof v !== 'function') throw invalidOption(name, 'a function', v)
  return v
}
const logger: Check = (name, v) => {
  const l = v as LoggerLike
  if (!l || typeof l.warn !== 'function' || typeof l.error !== 'function' || typeof l.info !== 'function') {
    throw invalidOption(name, 'a pino-compatible logger (info, warn, error methods)', v)
  }
  return v
}

function resolve<T extends object>(what: string, input: unknown, defaults: T, checks: Record<string, Check>): T {
  if (input === undefined || input === null) return { ...defaults }
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: ${what} options must be an object, got ${describe(input)}`)
  }
  const out = { ...defaults } as Record<string, unknown>
  for (const [k, v] of Object.entries(input)) {
    if (!Object.prototype.hasOwnProperty.call(checks, k)) {
      throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: unknown ${what} option \`${k}\` (known: ${Object.keys(checks).sort().join(', ')})`)
    }
    if (v !== undefined) out[k] = checks[k]!(k, v)
  }
  return out as T
}

// ------------------------------------------------------------------------------ connect

export interface ConnectOptions {
  /** This host's name in every row it ships. Default: os.hostname(). */
  host?: string
  /** PostgreSQL schema holding the tables. Default 'dletter'. */
  schema?: string
  /** Connections in the pool. Default 10. */
  maxConnections?: number
  /** Give up connecting after this long. Default '10s'. */
  connectTimeout?: number | string
  /** A pino-compatible logger for non-fatal problems (a lost idle connection, a failed background ship). */
  logger?: LoggerLike
}

export interface ResolvedConnectOptions {
  host: string
  schema: string
  maxConnections: number
  connectTimeout: number
  logger: LoggerLike | undefined
}

export function resolveConnectOptions(input: unknown): ResolvedConnectOptions {
  return resolve('PostgresStore.connect', input, { host: os.hostname(), schema: 'dletter', maxConnections: 10, connectTimeout: 10_000, logger: undefined }, {
    host: str,
    schema: str,
    maxConnections: int(1),
    connectTimeout: timer,
    logger,
  })
}

// ------------------------------------------------------------------------------ ship

export interface ShipOptions {
  /** How long to wait for a live writer to seal its active files. Default '5s'. */
  sealTimeout?: number | string
  /** Rows per INSERT. Default 2000. */
  batchSize?: number
  /** Largest line shipped as an entry; longer ones are kept locally and shipped as a corrupt row. Default 16 MiB. */
  maxRecordSize?: number | string
  /** Name of this log in the database. Default: the log's absolute path. */
  logName?: string
  /** Mode for files created (locks, side files). Default 0o600. */
  mode?: number
  /** Stop between batches; committed rows stay, the rest ships next time. */
  signal?: AbortSignal
}

export interface ResolvedShipOptions {
  sealTimeout: number
  batchSize: number
  maxRecordSize: number
  logName: string | undefined
  mode: number
  signal: AbortSignal | undefined
}

export function resolveShipOptions(input: unknown): ResolvedShipOptions {
  const o = resolve<ResolvedShipOptions>('ship', input, { sealTimeout: 5000, batchSize: 2000, maxRecordSize: replayDefaults.maxRecordSize, logName: undefined, mode: 0o600, signal: undefined }, {
    sealTimeout: timer,
    batchSize: int(1),
    maxRecordSize: size,
    logName: str,
    mode: fileMode,
    signal,
  })
  if (o.maxRecordSize < 64) throw invalidOption('maxRecordSize', 'at least 64 bytes', o.maxRecordSize)
  return o
}

export interface ShipperOptions extends Omit<ShipOptions, 'signal'> {
  /** Time between ships. Default '1s'. */
  interval?: number | string
}

export function resolveShipperOptions(input: unknown): { interval: number; ship: ResolvedShipOptions } {
  const { interval, ...rest } = (input ?? {}) as ShipperOptions
  return { interval: interval === undefined ? 1000 : timerDuration('interval', interval), ship: resolveShipOptions(rest) }
}

// ------------------------------------------------------------------------------ replay

export interface CentralReplayOptions {
  /** Total attempts including the original failure. Default 5. */
  maxAttempts?: number
  /** First backoff. Default '1s'. */
  initialWait?: number | string
  /** Backoff cap. Default '30s'. */
  maxWait?: number | string
  /** Handler calls in flight in this worker. Default 1. */
  concurrency?: number
  /** Entries whose first failure is older than this become permanent ('expired'). */
  ttl?: number | string
  /** A handler call not settled after this long counts as failed. Default: no limit. */
  handlerTimeout?: number | string
  /** Stop after this many entries. */
  limit?: number
  /** Stop claiming; in-flight entries finish, claimed-but-unstarted ones are released. */
  signal?: AbortSignal
  /** Entries claimed per round trip. Default 100. */
  batchSize?: number
  /** How long claimed entries stay invisible to other workers; renewed while in flight. Default '30s'. */
  lease?: number | string
  /** Only entries of this host / log. */
  host?: string
  log?: string
  /** Run each handler call in an OpenTelemetry span (when an SDK is registered; docs/tracing.md). Default true. */
  trace?: boolean
  /** How that span relates to the context captured by log(): 'link' (the default) or 'child'. */
  traceParent?: TraceParentMode
  /** Random source for jitter, for tests. */
  random?: () => number
}

export interface ResolvedCentralReplayOptions {
  maxAttempts: number
  initialWait: number
  maxWait: number
  concurrency: number
  ttl: number | undefined
  handlerTimeout: number | undefined
  limit: number | undefined
  signal: AbortSignal | undefined
  batchSize: number
  lease: number
  host: string | undefined
  log: string | undefined
  trace: boolean
  traceParent: TraceParentMode
  random: () => number
}

export function resolveCentralReplayOptions(input: unknown): ResolvedCentralReplayOptions {
  const o = resolve<ResolvedCentralReplayOptions>(
    'replay',
    input,
    {
      maxAttempts: replayDefaults.maxAttempts,
      initialWait: replayDefaults.initialWait,
      maxWait: replayDefaults.maxWait,
      concurrency: 1,
      ttl: undefined,
      handlerTimeout: undefined,
      limit: undefined,
      signal: undefined,
      batchSize: 100,
      lease: 30_000,
      host: undefined,
      log: undefined,
      trace: replayDefaults.trace,
      traceParent: replayDefaults.traceParent,
      random: Math.random,
    },
    {
      maxAttempts: int(1),
      initialWait: duration,
      maxWait: duration,
      concurrency: int(1),
      ttl: duration,
      handlerTimeout: timer,
      limit: int(1),
      signal,
      batchSize: int(1),
      lease: timer,
      host: str,
      log: str,
      trace: bool,
      traceParent: oneOf('link', 'child'),
      random: fn,
    },
  )
  if (o.maxAttempts > MAX_ATTEMPTS) throw invalidOption('maxAttempts', `at most ${MAX_ATTEMPTS}`, o.maxAttempts)
  settleBackoffWaits(input, o)
  if (o.handlerTimeout !== undefined && o.handlerTimeout <= 0) throw invalidOption('handlerTimeout', 'a positive duration', o.handlerTimeout)
  if (o.lease < 100) throw invalidOption('lease', 'at least 100 ms', o.lease)
  return o
}

// ------------------------------------------------------------------------------ redrive

export interface RedriveOptions {
  /** Report the count and top reasons; change nothing. Default false. */
  dryRun?: boolean
  /** At most this many entries per second (changed in batches). Default: unlimited. */
  rate?: number
  /** requeue: start counting attempts again from 1. Default false. */
  resetAttempts?: boolean
  signal?: AbortSignal
}

export interface ResolvedRedriveOptions {
  dryRun: boolean
  rate: number | undefined
  resetAttempts: boolean
  signal: AbortSignal | undefined
}

export function resolveRedriveOptions(what: string, input: unknown): ResolvedRedriveOptions {
  const checks: Record<string, Check> = { dryRun: bool, rate: int(1), signal }
  if (what === 'requeue') checks.resetAttempts = bool
  return resolve(what, input, { dryRun: false, rate: undefined, resetAttempts: false, signal: undefined }, checks)
}

export { bool as checkBool }
