/**
 * All defaults live here, in one typed object per API, and are validated once (at open or at
 * the start of a replay). Unknown options are rejected so a typo such as `maxAttempt` fails
 * loudly instead of silently running with the default.
 */
import { DeadLetterError, invalidOption } from './errors.js'
import type { TraceParentMode } from './trace.js'

/** The subset of a pino logger we use; console-like objects work too. */
export interface LoggerLike {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

export type Durability = 'kernel' | 'fsync'
export type FullPolicy = 'reject' | 'drop-oldest'

export interface LoggerOptions {
  /** 'kernel': log() resolves once the OS has the bytes (survives a process crash). 'fsync': once on stable storage (survives power loss). */
  durability?: Durability
  /** Bytes of records accepted but not yet written before log() starts waiting (backpressure). */
  maxBufferedBytes?: number | string
  /** Largest envelope line accepted by log() and read by replay. */
  maxRecordSize?: number | string
  /** Seal the active segment once it reaches this size. `0` disables size rotation. */
  rotateSize?: number | string
  /** Also seal on a clock boundary: '30s', '5m', '1h', '1d', '1M' (see parseRotationInterval). */
  rotateInterval?: string
  /** gzip sealed segments. */
  compress?: boolean
  /** Opt-in cap on the bytes of the retry log (all segments). Requires a policy: onFull. */
  maxRetryBytes?: number | string
  /** What happens when maxRetryBytes is reached: reject new records (DLQ_FULL) or evict the oldest sealed segments. */
  onFull?: FullPolicy
  /** Keep at most this many sealed permanent-log segments. */
  maxBackups?: number
  /** Delete sealed permanent-log segments older than this. */
  maxAge?: number | string
  /** Mode for files we create. */
  mode?: number
  /** Mode for directories we create. */
  dirMode?: number
  /** JSON schema of the payload, compiled once with fast-json-stringify. */
  schema?: object
  /** A pino-compatible logger for stable diagnostic messages. */
  logger?: LoggerLike
  /** How often the writer checks for a seal request from a replayer in another process; 0 disables. */
  sealPollInterval?: number | string
  /** How long Logger.open waits for a process sealing an orphaned active file (a transient holder) before DLQ_LOCKED. */
  openTimeout?: number | string
  /** Record the active OpenTelemetry span's context in each envelope (needs `@opentelemetry/api`; docs/tracing.md). */
  trace?: boolean
  /** Record the OpenTelemetry baggage too. Off by default: baggage may carry secrets into a file that lives for days. */
  traceBaggage?: boolean
  /** Clock, for tests. */
  now?: () => number
}

export interface ResolvedLoggerOptions {
  durability: Durability
  maxBufferedBytes: number
  maxRecordSize: number
  rotateSize: number
  rotateInterval: string | undefined
  compress: boolean
  maxRetryBytes: number | undefined
  onFull: FullPolicy
  maxBackups: number | undefined
  maxAge: number | undefined
  mode: number
  dirMode: number
  schema: object | undefined
  logger: LoggerLike | undefined
  sealPollInterval: number
  openTimeout: number
  trace: boolean
  traceBaggage: boolean
  now: () => number
}

const MiB = 1024 * 1024

/** Frozen: resolving copies them, and nothing (the CLI included) may change them for everyone. */
export const loggerDefaults: Readonly<ResolvedLoggerOptions> = Object.freeze({
  durability: 'kernel',
  maxBufferedBytes: 8 * MiB,
  maxRecordSize: 16 * MiB,
  rotateSize: 64 * MiB,
  rotateInterval: undefined,
  compress: false,
  maxRetryBytes: undefined,
  onFull: 'reject',
  maxBackups: undefined,
  maxAge: undefined,
  mode: 0o600,
  dirMode: 0o700,
  schema: undefined,
  logger: undefined,
  sealPollInterval: 200,
  openTimeout: 5000,
  trace: true,
  traceBaggage: false,
  now: Date.now,
})

export interface ReplayOptions {
  /** Total attempts including the original failure. */
  maxAttempts?: number
  /** First backoff, ms or duration string. */
  initialWait?: number | string
  /** Backoff cap, ms or duration string. */
  maxWait?: number | string
  /** Extra in-place retries of a handler failure within this run (through p-retry). */
  retries?: number
  /** Handler calls in flight. */
  concurrency?: number
  /** Items whose first failure is older than this go to the permanent log as expired. */
  ttl?: number | string
  /** Stop after this many items. */
  limit?: number
  /** Stop taking new items; in-flight ones finish and a checkpoint is written. */
  signal?: AbortSignal
  /** Read and report only: nothing is delivered, written, checkpointed or removed. */
  dryRun?: boolean
  /** Write a checkpoint at least every this many items… */
  checkpointEvery?: number
  /** …and at least this often (ms or duration string). */
  checkpointInterval?: number | string
  /** How long a replayer in another process waits for the live writer to seal its active segment. */
  sealTimeout?: number | string
  /** Wait before each in-place retry (ms); the delays grow by 2× per retry. */
  retryDelay?: number | string
  /** A handler call not settled after this long counts as failed (re-logged). Default: no limit. */
  handlerTimeout?: number | string
  /** Largest line read; defaults to the logger's maxRecordSize (16 MiB). */
  maxRecordSize?: number | string
  /** Mode for the files the replayer creates. */
  mode?: number
  /** A pino-compatible logger. */
  logger?: LoggerLike
  /** Run each handler call in an OpenTelemetry span (when an SDK is registered; docs/tracing.md). */
  trace?: boolean
  /** How that span relates to the context captured by log(): a link (the default) or its child. */
  traceParent?: TraceParentMode
  /** Clock, for tests. */
  now?: () => number
  /** Random source for jitter, for tests. */
  random?: () => number
}

export interface ResolvedReplayOptions {
  maxAttempts: number
  initialWait: number
  maxWait: number
  retries: number
  concurrency: number
  ttl: number | undefined
  limit: number | undefined
  signal: AbortSignal | undefined
  dryRun: boolean
  checkpointEvery: number
  checkpointInterval: number
  sealTimeout: number
  retryDelay: number
  handlerTimeout: number | undefined
  maxRecordSize: number
  mode: number
  logger: LoggerLike | undefined
  trace: boolean
  traceParent: TraceParentMode
  now: () => number
  random: () => number
}

export const replayDefaults: Readonly<ResolvedReplayOptions> = Object.freeze({
  maxAttempts: 5,
  initialWait: 1000,
  maxWait: 30_000,
  retries: 0,
  concurrency: 1,
  ttl: undefined,
  limit: undefined,
  signal: undefined,
  dryRun: false,
  checkpointEvery: 1000,
  checkpointInterval: 1000,
  sealTimeout: 5000,
  retryDelay: 100,
  handlerTimeout: undefined,
  maxRecordSize: 16 * MiB,
  mode: 0o600,
  logger: undefined,
  trace: true,
  traceParent: 'link',
  now: Date.now,
  random: Math.random,
})

// ---------------------------------------------------------------------------------------
// Shared parsers: the CLI uses the same ones, so `--ttl 72h` and `{ ttl: '72h' }` agree.

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** '1500', '1.5s', '30m', '72h', '30d' → milliseconds. Throws a plain Error on bad input. */
export function parseDuration(input: number | string): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new Error(`invalid duration ${input}`)
    return input
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input)
  if (!m) throw new Error(`invalid duration ${JSON.stringify(input)} (examples: 500ms, 30s, 15m, 72h, 30d)`)
  const unit = (m[2] || 'ms').toLowerCase()
  const mult = DURATION_UNITS[unit]
  if (mult === undefined) {
    throw new Error(`invalid duration unit ${JSON.stringify(m[2])} in ${JSON.stringify(input)} (use ms, s, m, h, d, w)`)
  }
  return Math.round(Number(m[1]) * mult)
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: MiB,
  mb: MiB,
  mib: MiB,
  g: 1024 * MiB,
  gb: 1024 * MiB,
  gib: 1024 * MiB,
}

/** '4096', '64K', '16MiB', '1G' → bytes (binary units). Throws a plain Error on bad input. */
export function parseSize(input: number | string): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new Error(`invalid size ${input}`)
    return input
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input)
  if (!m) throw new Error(`invalid size ${JSON.stringify(input)} (examples: 512K, 64M, 1G)`)
  const mult = SIZE_UNITS[(m[2] || 'b').toLowerCase()]
  if (mult === undefined) throw new Error(`invalid size unit ${JSON.stringify(m[2])} in ${JSON.stringify(input)} (use B, K, M, G)`)
  const bytes = Math.floor(Number(m[1]) * mult)
  if (!Number.isSafeInteger(bytes)) throw new Error(`invalid size ${JSON.stringify(input)} (too large)`)
  return bytes
}

// ---------------------------------------------------------------------------------------

type Check<T> = (name: string, value: unknown) => T

const durationOpt: Check<number> = (name, v) => {
  if (typeof v !== 'number' && typeof v !== 'string') throw invalidOption(name, 'a duration (ms or "30s")', v)
  try {
    return parseDuration(v)
  } catch (err) {
    throw invalidOption(name, `a duration (${(err as Error).message})`, v)
  }
}
/**
 * setTimeout and setInterval take at most 2^31−1 ms; Node runs a longer delay after 1 ms
 * instead (and prints a TimeoutOverflowWarning). Every option that ends up as a timer
 * delay, or bounds a wait made of timers, is checked against this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

const timerOpt: Check<number> = (name, v) => {
  const ms = durationOpt(name, v)
  if (ms > MAX_TIMER_MS) throw invalidOption(name, `at most ${MAX_TIMER_MS} ms (about 24.8 days)`, v)
  return ms
}

/** A timer-driving duration given outside the options objects (startReplayer's `interval`). */
export function timerDuration(name: string, value: unknown): number {
  return timerOpt(name, value)
}

const sizeOpt: Check<number> = (name, v) => {
  if (typeof v !== 'number' && typeof v !== 'string') throw invalidOption(name, 'a size (bytes or "64M")', v)
  try {
    return parseSize(v)
  } catch (err) {
    throw invalidOption(name, `a size (${(err as Error).message})`, v)
  }
}
const intOpt =
  (min: number): Check<number> =>
  (name, v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalidOption(name, `an integer >= ${min}`, v)
    return v
  }
const boolOpt: Check<boolean> = (name, v) => {
  if (typeof v !== 'boolean') throw invalidOption(name, 'a boolean', v)
  return v
}
const fnOpt: Check<() => number> = (name, v) => {
  if (typeof v !== 'function') throw invalidOption(name, 'a function', v)
  return v as () => number
}
/** A mode that leaves the owner (this process) at least `need`: a log it cannot reopen is lost. */
const modeOpt =
  (need: number, example: string): Check<number> =>
  (name, v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0o7777 || (v & need) !== need) {
      throw invalidOption(name, `a mode such as ${example} that gives the owner ${need === 0o700 ? 'rwx' : 'rw'}`, v)
    }
    return v
  }
const fileModeOpt = modeOpt(0o600, '0o600')
const dirModeOpt = modeOpt(0o700, '0o700')

/** A file mode given outside the options objects (the central store's `ship`): rw for the owner at least. */
export function fileMode(name: string, value: unknown): number {
  return fileModeOpt(name, value)
}
const oneOf =
  <T extends string>(...values: T[]): Check<T> =>
  (name, v) => {
    if (!values.includes(v as T)) throw invalidOption(name, `one of ${values.map((x) => `'${x}'`).join(', ')}`, v)
    return v as T
  }
const loggerOpt: Check<LoggerLike> = (name, v) => {
  const l = v as LoggerLike
  if (!l || typeof l.info !== 'function' || typeof l.warn !== 'function' || typeof l.error !== 'function') {
    throw invalidOption(name, 'a pino-compatible logger (info, warn, error methods)', v)
  }
  return l
}
const objectOpt: Check<object> = (name, v) => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalidOption(name, 'an object', v)
  return v
}
const signalOpt: Check<AbortSignal> = (name, v) => {
  if (!(v instanceof AbortSignal)) throw invalidOption(name, 'an AbortSignal', v)
  return v
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

const intervalOpt: Check<string> = (name, v) => {
  if (!parseRotationInterval(v)) throw invalidOption(name, "an interval such as '30s', '5m', '1h', '1d' (s/m must divide 60, h must divide 24)", v)
  return v as string
}

function resolve<R extends object>(
  what: string,
  input: unknown,
  defaults: Readonly<R>,
  checks: { [K in keyof R]: Check<R[K]> },
): R {
  if (input === undefined || input === null) return { ...defaults }
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: ${what} options must be an object, got ${typeof input}`)
  }
  const out = { ...defaults }
  for (const [key, value] of Object.entries(input)) {
    if (!Object.prototype.hasOwnProperty.call(checks, key)) {
      const known = Object.keys(checks).sort().join(', ')
      throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: unknown ${what} option \`${key}\` (known: ${known})`)
    }
    if (value === undefined) continue
    ;(out as Record<string, unknown>)[key] = (checks as Record<string, Check<unknown>>)[key](key, value)
  }
  return out
}

export function resolveLoggerOptions(input: unknown): ResolvedLoggerOptions {
  const o = resolve('Logger', input, loggerDefaults, {
    durability: oneOf('kernel', 'fsync'),
    maxBufferedBytes: sizeOpt,
    maxRecordSize: sizeOpt,
    rotateSize: sizeOpt,
    rotateInterval: intervalOpt,
    compress: boolOpt,
    maxRetryBytes: sizeOpt,
    onFull: oneOf('reject', 'drop-oldest'),
    maxBackups: intOpt(1),
    maxAge: durationOpt,
    mode: fileModeOpt,
    dirMode: dirModeOpt,
    schema: objectOpt,
    logger: loggerOpt,
    sealPollInterval: timerOpt,
    openTimeout: timerOpt,
    trace: boolOpt,
    traceBaggage: boolOpt,
    now: fnOpt,
  } as { [K in keyof ResolvedLoggerOptions]: Check<ResolvedLoggerOptions[K]> })
  if (o.maxRecordSize < 64) throw invalidOption('maxRecordSize', 'at least 64 bytes', o.maxRecordSize)
  if (o.maxBufferedBytes < 1024) throw invalidOption('maxBufferedBytes', 'at least 1024 bytes', o.maxBufferedBytes)
  if (o.rotateSize !== 0 && o.rotateSize < 1024) throw invalidOption('rotateSize', '0 (off) or at least 1024 bytes', o.rotateSize)
  if (o.maxRetryBytes !== undefined && o.maxRetryBytes < o.maxRecordSize && o.maxRetryBytes < 1024) {
    throw invalidOption('maxRetryBytes', 'at least 1024 bytes', o.maxRetryBytes)
  }
  return o
}

/**
 * The backoff pair, for local and central replay alike. `maxWait` given: it must be at least
 * `initialWait`. Not given: it is its default or `initialWait`, whichever is larger — the user
 * who asked for `initialWait: '1h'` never chose the 30 s cap it would otherwise contradict.
 */
export function settleBackoffWaits(input: unknown, o: { initialWait: number; maxWait: number }): void {
  const given = input !== null && typeof input === 'object' && (input as { maxWait?: unknown }).maxWait !== undefined
  if (!given) o.maxWait = Math.max(o.maxWait, o.initialWait)
  else if (o.maxWait < o.initialWait) throw invalidOption('maxWait', `>= initialWait (${o.initialWait} ms)`, o.maxWait)
}

export function resolveReplayOptions(input: unknown): ResolvedReplayOptions {
  const o = resolve('replay', input, replayDefaults, {
    maxAttempts: intOpt(1),
    initialWait: durationOpt,
    maxWait: durationOpt,
    retries: intOpt(0),
    concurrency: intOpt(1),
    ttl: durationOpt,
    limit: intOpt(1),
    signal: signalOpt,
    dryRun: boolOpt,
    checkpointEvery: intOpt(1),
    checkpointInterval: timerOpt,
    sealTimeout: timerOpt,
    retryDelay: timerOpt,
    handlerTimeout: timerOpt,
    maxRecordSize: sizeOpt,
    mode: fileModeOpt,
    logger: loggerOpt,
    trace: boolOpt,
    traceParent: oneOf('link', 'child'),
    now: fnOpt,
    random: fnOpt,
  } as { [K in keyof ResolvedReplayOptions]: Check<ResolvedReplayOptions[K]> })
  settleBackoffWaits(input, o)
  if (o.handlerTimeout !== undefined && o.handlerTimeout <= 0) throw invalidOption('handlerTimeout', 'a positive duration', o.handlerTimeout)
  if (o.maxRecordSize < 64) throw invalidOption('maxRecordSize', 'at least 64 bytes', o.maxRecordSize)
  return o
}
