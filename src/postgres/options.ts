/**
 * Options of the central store, validated once with the option's name in the message;
 * unknown options are rejected (a typo must not silently fall back to a default).
 */
import { type Checks, type LoggerLike, type Resolved, atLeast, bool, duration, fileMode, hostName, int, logger, recordSize, resolveOptions, signal, str, timer } from '../base/checks.js'
import { type ReplayOptions, loggerDefaults, replayChecks, replayDefaults, settleBackoffWaits } from '../base/options.js'

/** The `attempt` column is a PostgreSQL integer. */
const MAX_ATTEMPTS = 2 ** 31 - 1

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

export type ResolvedConnectOptions = Resolved<ConnectOptions, 'logger'>

export function resolveConnectOptions(input: unknown): ResolvedConnectOptions {
  return resolveOptions<ResolvedConnectOptions>('PostgresStore.connect', input, { host: loggerDefaults.host, schema: 'dletter', maxConnections: 10, connectTimeout: 10_000, logger: undefined }, {
    host: hostName,
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

export type ResolvedShipOptions = Resolved<ShipOptions, 'logName' | 'signal'>

const shipDefaults: ResolvedShipOptions = { sealTimeout: 5000, batchSize: 2000, maxRecordSize: replayDefaults.maxRecordSize, logName: undefined, mode: 0o600, signal: undefined }
const shipChecks: Checks<ResolvedShipOptions> = { sealTimeout: timer, batchSize: int(1), maxRecordSize: recordSize, logName: str, mode: fileMode, signal }

export function resolveShipOptions(input: unknown): ResolvedShipOptions {
  return resolveOptions<ResolvedShipOptions>('store.ship', input, shipDefaults, shipChecks)
}

export interface ShipperOptions extends Omit<ShipOptions, 'signal'> {
  /** Time between ships. Default '1s'. */
  interval?: number | string
}

export function resolveShipperOptions(input: unknown): { interval: number; ship: ResolvedShipOptions } {
  const { signal: _d, ...defaults } = shipDefaults
  const { signal: _c, ...checks } = shipChecks
  const { interval, ...ship } = resolveOptions('store.startShipper', input, { ...defaults, interval: 1000 }, { ...checks, interval: atLeast(timer, 1, 'ms') })
  return { interval, ship: { ...ship, signal: undefined } }
}

// ------------------------------------------------------------------------------ replay

/** What the central replay shares with the local one: the same options, defaults and rules. */
const SHARED = ['maxAttempts', 'initialWait', 'maxWait', 'concurrency', 'ttl', 'handlerTimeout', 'limit', 'signal', 'random', 'trace', 'traceParent'] as const
const pick = <T extends object>(o: T): Pick<T, (typeof SHARED)[number] & keyof T> => Object.fromEntries(SHARED.map((k) => [k, o[k as keyof T]])) as never

export interface CentralReplayOptions extends Pick<ReplayOptions, Exclude<(typeof SHARED)[number], 'signal'>> {
  /** Stop claiming; in-flight entries finish, claimed-but-unstarted ones are released. */
  signal?: AbortSignal
  /** Entries claimed per round trip. Default 100. */
  batchSize?: number
  /** How long claimed entries stay invisible to other workers; renewed while in flight. Default '30s'. */
  lease?: number | string
  /** Only entries of this host / of this shipped log (its `ShipOptions.logName`). */
  host?: string
  logName?: string
}

export type ResolvedCentralReplayOptions = Resolved<CentralReplayOptions, 'ttl' | 'handlerTimeout' | 'limit' | 'signal' | 'host' | 'logName'>

export function resolveCentralReplayOptions(input: unknown): ResolvedCentralReplayOptions {
  const o = resolveOptions<ResolvedCentralReplayOptions>(
    'store.replay',
    input,
    { ...pick(replayDefaults), batchSize: 100, lease: 30_000, host: undefined, logName: undefined },
    { ...pick(replayChecks), maxAttempts: int(1, MAX_ATTEMPTS), batchSize: int(1), lease: atLeast(timer, 100, 'ms'), host: str, logName: str },
  )
  settleBackoffWaits(input, o)
  return o
}

// ------------------------------------------------------------------------------ prune

export interface PruneOptions {
  /** Delete delivered and purged rows older than this. */
  olderThan: number | string
}

export function resolvePruneOptions(input: unknown): { olderThan: number } {
  const o = resolveOptions<{ olderThan: number | undefined }>('store.prune', input, { olderThan: undefined }, { olderThan: duration })
  // Required: a prune with no age would delete every settled row.
  return { olderThan: o.olderThan ?? duration('olderThan', undefined) }
}
