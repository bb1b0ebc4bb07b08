/**
 * PostgresStore: the fleet's central dead-letter store. Local files stay the durable buffer
 * (`log()` never waits on the database); `ship` forwards them, and triage and replay happen
 * here, from any host.
 */
import { EventEmitter } from 'node:events'
import { DeadLetterError } from '../base/errors.js'
import { bool, checkOptions, fn, int, oneOf, signal } from '../base/checks.js'
import { ListenerGuard } from '../base/listener-guard.js'
import type {
  CentralOptions,
  Entry,
  InspectIterable,
  InspectOptions,
  Kind,
  Progress,
  PurgeOptions,
  PurgeResult,
  RequeueOptions,
  RequeueResult,
  Stats,
  StatsOptions,
} from '../format/model.js'
import { type Db, isPGliteLike, type PGliteLike, pgliteDb, poolDb } from './db.js'
import { dbError } from './errors.js'
import { maskSecrets, redactUrl } from '../base/redact.js'
import { CENTRAL_FILTER_KEYS, centralFilter, compileFilter } from './filters.js'
import { inspectEntries, readRow } from './inspect.js'
import { readAuditRows } from './audit.js'
import { AUDIT_LIMIT, type AuditRecord, type ReadAuditOptions, readAuditChecks } from '../format/edit.js'
import {
  type CentralReplayOptions,
  type ConnectOptions,
  type PruneOptions,
  type ResolvedConnectOptions,
  resolveCentralReplayOptions,
  resolveConnectOptions,
  resolvePruneOptions,
  resolveShipOptions,
  resolveShipperOptions,
  type ShipOptions,
  type ShipperOptions,
} from './options.js'
import { keptCanAnswer, keptStats } from './kept-counts.js'
import { prune, redrive } from './redrive.js'
import { migrate, type Tables, tablesFor } from './schema.js'
import { shipLog, type ShipResult } from './ship.js'
import { startLoop } from '../base/loop.js'
import { centralStats } from './stats.js'
import { centralFailureSeries } from './failure-series.js'
import { type FailureSeries, type FailureSeriesOptions, resolveSeries } from '../format/series.js'
import { groupByCheck } from '../base/options.js'
import { type CentralHandler, type CentralReplaySummary, runWorker } from './worker.js'

export interface PostgresStoreEvents {
  /** A background ship round committed. */
  shipped: [ShipResult]
  /** A non-fatal failure: a background ship round, a lost idle connection. */
  error: [DeadLetterError]
  /** Something to know that failed nothing: a listener of this store that threw. */
  warning: [Error]
}

const INSPECT_CHECKS = { kind: oneOf<Kind>('retry', 'permanent', 'corrupt'), order: oneOf('oldest', 'newest'), skip: int(0), signal, settled: oneOf('delivered', 'purged') }
const STATS_CHECKS = { top: int(1), fast: bool, groupBy: groupByCheck, signal, onProgress: fn }
const STATS_FILTER_KEYS = CENTRAL_FILTER_KEYS.filter((k) => k !== 'limit')

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
    // The first round at once; a failed one (database down) is reported and retried next
    // interval, one that found the replay lock taken (a local replay, another shipper) is no failure.
    const stop = startLoop({
      every: interval,
      first: 'now',
      run: (signal) => shipLog({ db: this.db, tables: this.tables, host: this.host }, logPath, { ...ship, signal }),
      onResult: (r) => this.guard.emit(this, 'shipped', r),
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
   * Matching entries of one kind (default 'retry'; `settled`: delivered or purged rows instead)
   * in shipping order (`order: 'newest'`: newest first), streamed page by page. A bad option,
   * or a `reason` pattern PostgreSQL rejects (DLQ_INVALID_OPTION), fails the first step of the
   * iteration, before any entry.
   */
  inspect(options?: InspectOptions & CentralOptions): InspectIterable {
    this.assertOpen()
    return inspectEntries(this.db, this.tables, () => {
      const o = checkOptions('store.inspect', options, INSPECT_CHECKS, CENTRAL_FILTER_KEYS)
      const kind = o.kind ?? 'retry'
      const { filter, scope } = centralFilter(options, o.settled === undefined ? kind : undefined)
      return { filter: compileFilter(filter, scope, [o.settled ?? kind], 3), order: o.order ?? 'oldest', skip: o.skip ?? 0, signal: o.signal }
    })
  }

  /** The entry a listing's `ref` names; undefined once it is settled (delivered, purged). */
  async readEntry(ref: string): Promise<Entry | undefined> {
    this.assertOpen()
    return readRow(this.db, this.tables, ref)
  }

  /** The audit records that name the entry `ref` names (as `readAudit` for a local log), newest `limit`, oldest first. */
  async readAudit(ref: string, options?: ReadAuditOptions): Promise<AuditRecord[]> {
    this.assertOpen()
    const o = checkOptions('store.readAudit', options, readAuditChecks)
    if (typeof ref !== 'string' || !/^\d{1,18}$/.test(ref)) throw new DeadLetterError('DLQ_INVALID_ARGUMENT', 'dlq: readAudit(): ref: expected a sequence number, as a listing gives it')
    return readAuditRows(this.db, this.tables, ref, o.limit ?? AUDIT_LIMIT)
  }

  /** Failures over time (src/format/series.ts): open entries by `ts` and reason group, from one indexed range query. */
  async failureSeries(options?: FailureSeriesOptions): Promise<FailureSeries> {
    this.assertOpen()
    return centralFailureSeries(this.db, this.tables, resolveSeries('store.failureSeries', options))
  }

  /** The `Stats` a local log's stats() gives, over the whole store, with per-host counts in `hosts`. */
  async stats(options?: StatsOptions & Omit<CentralOptions, 'rate' | 'settled'>): Promise<Stats> {
    this.assertOpen()
    const o = checkOptions('store.stats', options, STATS_CHECKS, STATS_FILTER_KEYS)
    const { filter, scope } = centralFilter(options, undefined)
    const abort = () => new DeadLetterError('DLQ_ABORTED', 'dlq: stats() was aborted', { cause: o.signal?.reason })
    if (o.signal?.aborted) throw abort()
    const how = { top: o.top ?? 10, fast: o.fast ?? false, groupBy: o.groupBy ?? 'last' }
    // A filter on host and fingerprint only (the overview, /metrics) reads the kept counts,
    // which are kept by last reason; any other filter, or grouping by first reason, scans.
    const s = how.groupBy === 'last' && keptCanAnswer(filter, scope)
      ? await keptStats(this.db, this.tables, filter, scope, how)
      : await centralStats(this.db, this.tables, compileFilter(filter, scope, undefined, 1), how)
    if (o.signal?.aborted) throw abort()
    const counted = s.retry.count + s.permanent.count + s.corrupt.count
    new ListenerGuard((message) => s.warnings.push(message)).call('onProgress', o.onProgress as ((p: Progress) => void) | undefined, { done: counted, total: counted, items: counted })
    return s
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
   * Make matching entries due again: `kind` 'permanent' (the default) or 'retry' (deferred
   * ones due now). Entries a replay worker holds (leased) are skipped and counted in
   * `backend.leased`.
   */
  async requeue(options?: RequeueOptions & Omit<CentralOptions, 'settled'>): Promise<RequeueResult> {
    this.assertOpen()
    return redrive(this.db, this.tables, 'requeue', options)
  }

  /**
   * Remove matching entries of `kind` ('permanent' or 'corrupt'; the retry log is never
   * purged, as locally). They leave every listing and count at once; their rows stay as
   * tombstones, so that a re-ship of the same lines stays exactly-once, until prune().
   */
  async purge(options: PurgeOptions & Omit<CentralOptions, 'settled'>): Promise<PurgeResult> {
    this.assertOpen()
    return redrive(this.db, this.tables, 'purge', options)
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
