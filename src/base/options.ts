/**
 * All defaults live here, in one typed object per API, checked once (at open or at the start
 * of a replay) through the rule book in checks.ts.
 */
import os from 'node:os'
import { type Check, type Checks, type LoggerLike, type Resolved, atLeast, bool, dirMode, duration, fileMode, fn, hostName, int, logger, object, oneOf, recordSize, resolveOptions, rotateInterval, signal, size, timer } from './checks.js'
import { invalidOption } from './errors.js'
import type { TraceParentMode } from './trace.js'

export type { LoggerLike } from './checks.js'

export type Durability = 'kernel' | 'fsync'

/**
 * Whether a failure's stack is kept with the entry (its lineage's `stack`: the latest
 * failure's only, cut to `maxStackBytes`), for log() given an Error and for replay's re-logs
 * of what a handler threw. Off by default: a stack is large and may name internals.
 */
export interface StackOptions {
  /** Keep the stack of an Error reason / a handler's thrown Error with the entry. */
  keepStack?: boolean
  /** Longest stack kept, in UTF-8 bytes (a longer one is cut and ends in a marker). */
  maxStackBytes?: number | string
}

const stackDefaults: Resolved<StackOptions> = { keepStack: false, maxStackBytes: 8 * 1024 }
const stackChecks: Checks<Resolved<StackOptions>> = { keepStack: bool, maxStackBytes: atLeast(size, 64, 'bytes') }
export type FullPolicy = 'reject' | 'drop-oldest'

export interface LoggerOptions extends StackOptions {
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
  /**
   * This log's host name, as an entry's `origin` names it once the entry leaves the log (a
   * repair: requeue's `originHost`; a ship: PostgresStore.connect's `host`, each defaulting to
   * the same machine name). Default: os.hostname().
   */
  host?: string
  /** Clock, for tests. */
  now?: () => number
}

export type ResolvedLoggerOptions = Resolved<LoggerOptions, 'rotateInterval' | 'maxRetryBytes' | 'maxBackups' | 'maxAge' | 'schema' | 'logger'>

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
  ...stackDefaults,
  // The one default of every `host` (an origin, a central row's host): the machine's name.
  host: os.hostname(),
  now: Date.now,
})

export interface ReplayOptions extends StackOptions {
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

export type ResolvedReplayOptions = Resolved<ReplayOptions, 'ttl' | 'limit' | 'signal' | 'handlerTimeout' | 'logger'>

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
  ...stackDefaults,
  now: Date.now,
  random: Math.random,
})

export function resolveLoggerOptions(input: unknown): ResolvedLoggerOptions {
  const o = resolveOptions('Logger.open', input, loggerDefaults, {
    durability: oneOf('kernel', 'fsync'),
    maxBufferedBytes: atLeast(size, 1024, 'bytes'),
    maxRecordSize: recordSize,
    rotateSize: size,
    rotateInterval,
    compress: bool,
    maxRetryBytes: size,
    onFull: oneOf('reject', 'drop-oldest'),
    maxBackups: int(1),
    maxAge: duration,
    mode: fileMode,
    dirMode,
    schema: object,
    logger,
    sealPollInterval: timer,
    openTimeout: timer,
    trace: bool,
    traceBaggage: bool,
    ...stackChecks,
    host: hostName,
    now: fn,
  })
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

export const replayChecks: Checks<ResolvedReplayOptions> = {
  maxAttempts: int(1),
  initialWait: duration,
  maxWait: duration,
  retries: int(0),
  concurrency: int(1),
  ttl: duration,
  limit: int(1),
  signal,
  dryRun: bool,
  checkpointEvery: int(1),
  checkpointInterval: timer,
  sealTimeout: timer,
  retryDelay: timer,
  handlerTimeout: atLeast(timer, 1, 'ms'),
  maxRecordSize: recordSize,
  mode: fileMode,
  logger,
  trace: bool,
  traceParent: oneOf('link', 'child'),
  ...stackChecks,
  now: fn,
  random: fn,
}

export function resolveReplayOptions(input: unknown, what = 'replay'): ResolvedReplayOptions {
  const o = resolveOptions(what, input, replayDefaults, replayChecks)
  settleBackoffWaits(input, o)
  return o
}

/** startReplayer(): its own options; the others are replay options, checked now and passed to each run. */
export function resolveReplayerOptions<S>(input: unknown): { interval: number; onRun: ((summary: S) => void) | undefined; signal: AbortSignal | undefined; replay: ReplayOptions } {
  const own = { interval: atLeast(timer, 1, 'ms'), onRun: fn as Check<((summary: S) => void) | undefined>, signal: signal as Check<AbortSignal | undefined> }
  const o = resolveOptions('startReplayer', input, { interval: 30_000, onRun: undefined, signal: undefined }, own, Object.keys(replayChecks).filter((k) => k !== 'signal'))
  const replay = Object.fromEntries(Object.entries(input ?? {}).filter(([k]) => !(k in own)))
  resolveReplayOptions(replay, 'startReplayer')
  return { ...o, replay }
}

/** requeue's loop guard (local log and central store alike): RequeueOptions.maxRedrives and force. */
export const redriveDefaults = Object.freeze({ maxRedrives: 3, force: false })

/** The loop guard's checks, for every requeue's own table. */
export const redriveChecks = { maxRedrives: int(0), force: bool }

/** How stats groups reasons: by the last reason (default) or by the first an entry failed with. */
export const groupByCheck = oneOf('first', 'last')
