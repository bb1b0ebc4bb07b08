/**
 * PostgresStore: the fleet's central dead-letter store. Local files stay the durable buffer
 * (`log()` never waits on the database); `ship` forwards them, and triage and replay happen
 * here, from any host.
 */
import { EventEmitter } from 'node:events'
import { DeadLetterError, invalidOption } from '../base/errors.js'
import { ListenerGuard } from '../base/listener-guard.js'
import { type Db, isPGliteLike, type PGliteLike, pgliteDb, poolDb } from './db.js'
import type { CentralEntry } from './entry.js'
import { dbError, maskSecrets, redactUrl } from './errors.js'
import { compileFilter, type EntryFilter } from './filters.js'
import { type InspectOrder, inspectEntries } from './inspect.js'
import {
  type CentralReplayOptions,
  type ConnectOptions,
  type PruneOptions,
  type RedriveOptions,
  type ResolvedConnectOptions,
  resolveCentralReplayOptions,
  resolveConnectOptions,
  resolvePruneOptions,
  resolveRedriveOptions,
  resolveShipOptions,
  resolveShipperOptions,
  type ShipOptions,
  type ShipperOptions,
} from './options.js'
import { prune, redrive, type RedriveResult } from './redrive.js'
import { keptCanAnswer, keptStats } from './kept-counts.js'
import { migrate, type Tables, tablesFor } from './schema.js'
import { shipLog, type ShipResult } from './ship.js'
import { startShipperLoop } from './shipper.js'
import { type CentralStats, centralStats, type StatsOptions } from './stats.js'
import { type CentralHandler, type CentralReplaySummary, runWorker } from './worker.js'

export interface PostgresStoreEvents {
  /** A background ship round committed. */
  shipped: [ShipResult]
  /** A non-fatal failure: a background ship round, a lost idle connection. */
  error: [DeadLetterError]
  /** Something to know that failed nothing: a listener of this store that threw. */
  warning: [Error]
}

/** `store.inspect()`: a filter, and which end of the shipping order to start from (default 'oldest'). */
export type CentralInspectOptions = EntryFilter & { order?: InspectOrder }

export class PostgresStore extends EventEmitter<PostgresStoreEvents> {
  readonly host: string
  private closed = false
  private readonly shippers = new Set<() => Promise<void>>()
  /**
   * Events go out through these, as the Logger's do: a listener that throws (a 'shipped' one
   * runs inside the background shipper) becomes a warning, never an unhandled rejection.
   */
  private readonly guard = new ListenerGuard((message, err) => this.warn(message, err))
  private readonly warningGuard = new ListenerGuard((message, err) => this.options.logger?.warn({ err }, `dlq: ${message}`))

  private constructor(
    private readonly db: Db,
    private readonly tables: Tables,
    private readonly options: ResolvedConnectOptions,
  ) {
    super()
    this.host = options.host
  }

  /**
   * Connect and create or migrate the schema. `target` is a connection string (e.g.
   * `process.env.DLETTER_DB`) or an in-process PGlite instance.
   */
  static async connect(target: string | PGliteLike | undefined, options?: ConnectOptions): Promise<PostgresStore> {
    const o = resolveConnectOptions(options)
    const tables = tablesFor(o.schema)
    let db: Db
    if (typeof target === 'string' && target.trim() !== '') {
      let store: PostgresStore | undefined
      db = poolDb(target, {
        max: o.maxConnections,
        applicationName: 'dletter',
        connectTimeout: o.connectTimeout,
        onIdleError: (err) => store?.report(dbError('idle database connection lost', err)),
      })
      store = new PostgresStore(db, tables, o)
      try {
        await migrate(db, tables)
      } catch (err) {
        await db.close().catch(() => {})
        const cause = err instanceof DeadLetterError && err.code === 'DLQ_DB' && err.cause !== undefined ? err.cause : err
        throw dbError(`connect to ${maskSecrets(redactUrl(target))}`, cause)
      }
      return store
    }
    if (isPGliteLike(target)) {
      db = pgliteDb(target)
      await migrate(db, tables)
      return new PostgresStore(db, tables, o)
    }
    throw new DeadLetterError(
      'DLQ_INVALID_ARGUMENT',
      'dlq: PostgresStore.connect() needs a connection string (for example from $DLETTER_DB) or a PGlite instance, got ' +
        (target === undefined || target === '' ? 'nothing (is DLETTER_DB set?)' : typeof target),
    )
  }

  /** Forward the log's retry, permanent and corrupt entries; delete each local file once committed. */
  async ship(logPath: string, options?: ShipOptions): Promise<ShipResult> {
    this.assertOpen()
    const o = resolveShipOptions(options)
    return shipLog({ db: this.db, tables: this.tables, host: this.host }, logPath, o)
  }

  /** Ship in the background every `interval`; the returned function stops it. */
  startShipper(logPath: string, options?: ShipperOptions): () => Promise<void> {
    this.assertOpen()
    const { interval, ship } = resolveShipperOptions(options)
    const stop = startShipperLoop(interval, ship, {
      ship: (signal) => shipLog({ db: this.db, tables: this.tables, host: this.host }, logPath, { ...ship, signal }),
      onShipped: (r) => this.guard.emit(this, 'shipped', r),
      onError: (err) => this.report(err instanceof DeadLetterError ? err : dbError('ship', err)),
    })
    const wrapped = async () => {
      this.shippers.delete(wrapped)
      await stop()
    }
    this.shippers.add(wrapped)
    return wrapped
  }

  /**
   * Matching entries in shipping order (`order: 'newest'`: newest first), streamed page by
   * page. Throws at once on a bad filter; a `reason` pattern PostgreSQL rejects fails the
   * first step of the iteration (DLQ_INVALID_OPTION), before any entry.
   */
  inspect(filter?: CentralInspectOptions): AsyncGenerator<CentralEntry> {
    this.assertOpen()
    let where: EntryFilter | undefined = filter
    let order: InspectOrder | undefined
    if (filter !== null && typeof filter === 'object' && 'order' in filter) {
      const { order: o, ...rest } = filter
      if (o !== undefined && o !== 'oldest' && o !== 'newest') throw invalidOption('order', "'oldest' or 'newest'", o)
      order = o
      where = rest
    }
    return inspectEntries(this.db, this.tables, compileFilter(where, 3), order)
  }

  async stats(filter?: EntryFilter, options?: StatsOptions): Promise<CentralStats> {
    this.assertOpen()
    if (options?.top !== undefined && (!Number.isSafeInteger(options.top) || options.top < 1)) throw invalidOption('top', 'an integer >= 1', options.top)
    // A filter on state, host and fingerprint only (the overview, /metrics) reads the kept
    // counts; any other scans the matching rows.
    if (keptCanAnswer(filter)) return keptStats(this.db, this.tables, filter, options)
    return centralStats(this.db, this.tables, filter, options)
  }

  /** Run a replay worker until nothing is due. Safe on many hosts and processes at once. */
  async replay<T = unknown>(handler: CentralHandler<T>, options?: CentralReplayOptions): Promise<CentralReplaySummary> {
    this.assertOpen()
    if (typeof handler !== 'function') {
      throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: replay() needs a handler function, got ${typeof handler}`)
    }
    const o = resolveCentralReplayOptions(options)
    return runWorker(this.db, this.tables, handler as CentralHandler, o, this.options.logger)
  }

  /**
   * Make matching entries due again: `state` 'permanent' (the default) or 'retry'. Entries a
   * replay worker holds (leased) are skipped and counted in `leased`.
   */
  async requeue(filter?: EntryFilter, options?: RedriveOptions): Promise<RedriveResult> {
    this.assertOpen()
    return redrive(this.db, this.tables, 'requeue', filter, resolveRedriveOptions('requeue', options))
  }

  /**
   * Mark matching entries purged (kept until prune()). The filter must name `state`:
   * 'permanent', 'corrupt' or both — the retry log is never purged, as locally.
   */
  async purge(filter?: EntryFilter, options?: Omit<RedriveOptions, 'resetAttempts'>): Promise<RedriveResult> {
    this.assertOpen()
    return redrive(this.db, this.tables, 'purge', filter, resolveRedriveOptions('purge', options))
  }

  /** Delete delivered and purged rows older than `olderThan` (retention). Returns rows deleted. */
  async prune(options: PruneOptions): Promise<number> {
    this.assertOpen()
    return prune(this.db, this.tables, resolvePruneOptions(options).olderThan)
  }

  /** Stop background shippers (waiting for a round in flight) and close the connections. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.shippers].map((s) => s()))
    this.guard.flush()
    this.warningGuard.flush()
    await this.db.close()
  }

  private assertOpen(): void {
    if (this.closed) throw new DeadLetterError('DLQ_CLOSED', 'dlq: this PostgresStore is closed')
  }

  private report(err: DeadLetterError): void {
    this.options.logger?.warn({ err }, err.message)
    this.guard.emit(this, 'error', err)
  }

  private warn(message: string, cause: unknown): void {
    const err = new Error(`dlq: ${message}`, { cause })
    this.options.logger?.warn({ err: cause }, err.message)
    this.warningGuard.emit(this, 'warning', err)
  }
}
