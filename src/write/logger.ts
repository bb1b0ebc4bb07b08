/**
 * The public Logger: takes the writer lock, encodes each record on the caller's turn into the
 * retry or permanent writer (writer.ts), and follows up on sealed segments (events,
 * compression). The rest it delegates, one concept per file: retention.ts (the retry cap,
 * permanent retention), ownership-watch.ts (lock checks, seal requests), base/loop.ts
 * (startReplayer's background runs), diagnostics.ts (where warnings and errors go).
 */
import { EventEmitter } from 'node:events'
import path from 'node:path'
import { Diagnostics } from './diagnostics.js'
import type { LogKind, LoggerEvents, StartReplayerOptions } from './events.js'
import { DeadLetterError, ioError } from '../base/errors.js'
import { encodeHeader, encodeTrailer, type EnvelopeHeader, type FinalReason, describeReason } from '../format/envelope.js'
import { parseLogArgs, type LogArgs, type LogOptions } from './log-args.js'
import { OwnershipWatch } from './ownership-watch.js'
import { describeStack, truncateReason } from '../base/reason.js'
import { startLoop } from '../base/loop.js'
import { Retention } from './retention.js'
import { FileLock, lockedError, sealLockPath, waitWhileHeld } from '../store/lock.js'
import { removeAbandonedTemps } from '../store/seal-request.js'
import { fsyncNewDirs, mkdirp } from '../base/fs-safe.js'
import { resolveLogPath } from '../store/log-path.js'
import { type ResolvedLoggerOptions, type LoggerOptions, resolveLoggerOptions, resolveReplayerOptions } from '../base/options.js'
import { compileSchema, loadSchemaCompiler, PayloadSerializer } from '../format/serialize.js'
import { compressSegment, type LogPaths } from '../store/segments.js'
import { SegmentWriter } from './writer.js'
import { type CaptureTrace, traceCapture } from '../base/trace.js'
import type { Handler, ReplaySummary } from '../replay/index.js'
import { runReplay } from '../replay/index.js'
import type { ReplayOptions } from '../base/options.js'

export type { LogOptions } from './log-args.js'

export class Logger extends EventEmitter<LoggerEvents> {
  readonly path: string
  readonly paths: LogPaths
  readonly options: Readonly<ResolvedLoggerOptions>

  private readonly retry: SegmentWriter
  private readonly permanent: SegmentWriter
  private readonly serializer: PayloadSerializer
  private readonly lock: FileLock
  private closed = false
  private closing: Promise<void> | undefined
  private background = new Set<Promise<unknown>>()
  private readonly diag: Diagnostics
  private readonly retention: Retention
  private readonly watch: OwnershipWatch

  private constructor(
    paths: LogPaths,
    options: ResolvedLoggerOptions,
    lock: FileLock,
    /** Undefined with `trace: false` or without `@opentelemetry/api`: then log() looks at no context. */
    private readonly captureTrace: CaptureTrace | undefined,
  ) {
    super()
    this.path = paths.active
    this.paths = paths
    this.options = options
    this.lock = lock
    this.diag = new Diagnostics(options.logger, this)
    this.serializer = new PayloadSerializer(options.schema ? compileSchema(options.schema) : undefined)
    const ownership = {
      onWarning: (m: string, e?: unknown) => this.diag.warn(m, e),
      onDebug: (m: string) => this.diag.debug({ path: this.path }, `dlq: ${m}`),
      ensureOwnership: () => this.watch.ensureOwnership(),
    }
    this.retry = new SegmentWriter(paths.retry, options, { ...ownership, onSealed: (p) => this.onSealed('retry', p) })
    this.permanent = new SegmentWriter(paths.permanent, options, { ...ownership, onSealed: (p) => this.onSealed('permanent', p) })
    this.retention = new Retention(paths, options, this.retry, this.diag)
    // `closed` and `lost` stay plain fields here, tested by every log(); the watch reads them live.
    const host = {
      closed: () => this.closed,
      lost: () => this.lost,
      loseOwnership: (err: DeadLetterError) => this.loseOwnership(err),
      sealActive: async () => ({ retry: await this.retry.seal(), permanent: await this.permanent.seal() }),
    }
    this.watch = new OwnershipWatch(lock, paths, options, host, this.diag)
  }

  /**
   * Open (creating directories) and take the writer lock. Rejects with DLQ_LOCKED when
   * another live process writes this log (at once), or when a process sealing an orphaned
   * active file did not finish within `openTimeout` (the error says which: `holderKind`,
   * `transient`, `pid`); DLQ_INVALID_OPTION for bad options, DLQ_IO (with systemCode EACCES, …)
   * when the directory cannot be written.
   */
  static async open(logPath: string, options?: LoggerOptions): Promise<Logger> {
    const opts = resolveLoggerOptions(options)
    if (opts.schema) await loadSchemaCompiler()
    const paths = await resolveLogPath('Logger.open', logPath, { create: true })
    try {
      const created = await mkdirp(paths.dir, opts.dirMode)
      if (created !== undefined && opts.durability === 'fsync') await fsyncNewDirs(created, paths.dir)
    } catch (err) {
      throw ioError(`create directory ${paths.dir}`, err)
    }
    const capture = opts.trace ? await traceCapture(opts.traceBaggage) : undefined
    const lock = await FileLock.acquire(paths.writerLock, 'writer', opts.mode, { waitMs: opts.openTimeout })
    let dlq: Logger | undefined
    try {
      // With the writer lock in place no new sealer starts; one already sealing is let finish.
      const sealer = await waitWhileHeld(sealLockPath(paths.writerLock), opts.openTimeout)
      if (sealer.state === 'alive') throw lockedError(sealLockPath(paths.writerLock), 'writer', sealer.info, opts.openTimeout)
      dlq = new Logger(paths, opts, lock, capture)
      await dlq.retry.open()
      await dlq.permanent.open()
      await removeAbandonedTemps(paths)
      if (opts.compress) for (const p of [...dlq.retry.pendingCompress, ...dlq.permanent.pendingCompress]) dlq.track(dlq.compress(p))
      await dlq.retention.refreshRetryBytes()
      if (opts.maxBackups !== undefined || opts.maxAge !== undefined) dlq.track(dlq.retention.applyRetention())
    } catch (err) {
      // Whatever failed once the lock was taken (an uncompilable schema, EMFILE while listing
      // segments, …), this process keeps neither the lock — every later open would get
      // DLQ_LOCKED — nor a descriptor or a background job.
      await dlq?.discard()
      await lock.release()
      throw err
    }
    dlq.watch.start()
    dlq.diag.info({ path: paths.active, durability: opts.durability }, 'dlq: opened')
    dlq.diag.releaseOpenWarnings()
    return dlq
  }

  /** Undo a failed open(): close the writers' files and wait for the jobs it started. */
  private async discard(): Promise<void> {
    this.closed = true
    await Promise.allSettled([this.retry.close(), this.permanent.close()])
    while (this.background.size > 0) await Promise.allSettled([...this.background])
  }

  // ---------------------------------------------------------------------- writing

  /**
   * Record a failed item. Resolves once the envelope is in the OS (or on stable storage with
   * `durability: 'fsync'`). Concurrent calls share one write: group commit.
   * `log(data, reason, { attempt, id })`, or positionally `log(data, reason, attempt, { id })`.
   */
  log(data: unknown, reason?: unknown, options?: LogOptions): Promise<void>
  log(data: unknown, reason: unknown, attempt: number | undefined, options?: Pick<LogOptions, 'id'>): Promise<void>
  log(data: unknown, reason?: unknown, third?: unknown, fourth?: unknown): Promise<void> {
    return this.record('log', this.retry, undefined, data, reason, third, fourth)
  }

  /** Record an item straight into the permanent-failure log; same arguments as log(). */
  logPermanent(data: unknown, reason?: unknown, options?: LogOptions): Promise<void>
  logPermanent(data: unknown, reason: unknown, attempt: number | undefined, options?: Pick<LogOptions, 'id'>): Promise<void>
  logPermanent(data: unknown, reason?: unknown, third?: unknown, fourth?: unknown): Promise<void> {
    return this.record('logPermanent', this.permanent, 'manual', data, reason, third, fourth)
  }

  /** log() and logPermanent(): a bad argument rejects, never throws. */
  private record(what: string, w: SegmentWriter, final: FinalReason | undefined, data: unknown, reason: unknown, third: unknown, fourth: unknown): Promise<void> {
    let a: LogArgs
    try {
      a = parseLogArgs(what, third, fourth)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.append(w, data, reason, a.attempt, a.id, final)
  }

  private append(
    w: SegmentWriter,
    data: unknown,
    reason: unknown,
    attempt: number,
    id: string | undefined,
    final: FinalReason | undefined,
    admitted = false,
  ): Promise<void> {
    // A call that was waiting for buffer room when close() began was made before it: close()
    // drains such waiters, so they are written like every other call already in flight.
    if (this.closed && (!admitted || w.isClosed)) {
      return Promise.reject(new DeadLetterError('DLQ_CLOSED', 'dlq: logger is closed'))
    }
    if (this.lost) return Promise.reject(this.lost)
    // A caller the writer just admitted must not queue again behind the waiters still queued
    // (w.full counts them): with more waiters than one wake-up admits, every admitted caller
    // would re-queue and none would ever write.
    if (admitted ? w.sink.len >= this.options.maxBufferedBytes : w.full) {
      return w.waitForRoom().then(() => this.append(w, data, reason, attempt, id, final, true))
    }
    const capped = w === this.retry && this.options.maxRetryBytes !== undefined
    const sink = w.sink
    const mark = sink.len
    try {
      let text: string | null
      let extra: EnvelopeHeader | undefined
      if (typeof reason === 'string') {
        text = truncateReason(reason)
      } else {
        const r = describeReason(reason)
        text = r.text
        if (r.errorName !== undefined || r.errorCode !== undefined) {
          extra = {} as EnvelopeHeader
          if (r.errorName !== undefined) extra.errorName = r.errorName
          if (r.errorCode !== undefined) extra.errorCode = r.errorCode
        }
        if (this.options.keepStack) {
          const stack = describeStack(reason, this.options.maxStackBytes)
          if (stack !== undefined) extra = { ...(extra ?? ({} as EnvelopeHeader)), stack }
        }
      }
      if (final !== undefined) extra = { ...(extra ?? ({} as EnvelopeHeader)), final }
      const trace = this.captureTrace?.()
      if (trace !== undefined) extra = { ...(extra ?? ({} as EnvelopeHeader)), ...trace }
      encodeHeader(sink, this.options.now(), attempt, text, id, extra)
      this.serializer.write(sink, data)
      encodeTrailer(sink)
    } catch (err) {
      sink.len = mark
      return Promise.reject(err)
    }
    const size = sink.len - mark
    if (size > this.options.maxRecordSize) {
      sink.len = mark
      return Promise.reject(
        new DeadLetterError(
          'DLQ_RECORD_TOO_LARGE',
          `dlq: record is ${size} bytes, over maxRecordSize (${this.options.maxRecordSize} bytes)`,
        ),
      )
    }
    if (capped && this.retention.sealedRetryBytes + w.activeSize > this.options.maxRetryBytes!) {
      sink.len = mark
      return this.retention.whenFull(size, () => this.append(this.retry, data, reason, attempt, id, undefined))
    }
    return w.commit()
  }

  /** Seal the active retry segment now. Resolves to its path, or null when it was empty. */
  async rotate(): Promise<string | null> {
    this.assertOpen()
    return this.retry.seal()
  }

  /** Resolves when everything logged before the call has been written. */
  async flush(): Promise<void> {
    await Promise.all([this.retry.flush(), this.permanent.flush()])
  }

  /**
   * Write what is buffered, finish background compression, release the lock. Idempotent;
   * later log() calls reject with DLQ_CLOSED.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing
    this.closed = true
    this.closing = (async () => {
      await this.watch.stop()
      try {
        await Promise.all([this.retry.close(), this.permanent.close()])
        while (this.background.size > 0) await Promise.allSettled([...this.background])
      } finally {
        await this.lock.release()
        this.diag.flush()
        this.diag.info({ path: this.path }, 'dlq: closed')
      }
    })()
    return this.closing
  }

  get isClosed(): boolean {
    return this.closed
  }

  // ---------------------------------------------------------------------- replay

  /**
   * Replay the retry log through `handler` in this process (see `replay()` for semantics).
   * Seals the active segment first so items logged up to now are included.
   */
  async replay<T = unknown>(handler: Handler<T>, options?: ReplayOptions): Promise<ReplaySummary> {
    this.assertOpen()
    // Lines this logger accepted must be readable by its replay, and files it creates get the
    // same mode: both default to the logger's own settings; so do tracing (`trace: false`
    // on the logger means no spans from it either) and keeping stacks.
    const inherited =
      options === undefined || (typeof options === 'object' && options !== null && !Array.isArray(options))
        ? { maxRecordSize: this.options.maxRecordSize, mode: this.options.mode, trace: this.options.trace, keepStack: this.options.keepStack, maxStackBytes: this.options.maxStackBytes, ...options }
        : options
    return runReplay(this.path, handler as Handler, inherited, {
      sealActive: async () => ({ retry: await this.retry.seal(), permanent: null }),
      logger: this.diag.logger,
      emitter: this,
    })
  }

  /**
   * Run replay every `interval` in the background (a retry worker for long-running services).
   * Returns a stop function that aborts the current run and resolves when it has finished.
   */
  startReplayer<T = unknown>(handler: Handler<T>, options: StartReplayerOptions = {}): () => Promise<void> {
    this.assertOpen()
    // Checked now: a typo must fail here, not silently on every background run.
    const { interval, onRun, signal: outer, replay: rest } = resolveReplayerOptions<ReplaySummary>(options)
    return startLoop({
      every: interval,
      first: 'later',
      signal: outer,
      run: (signal) => this.replay(handler, { ...rest, signal }),
      onResult: this.diag.callback('onRun', onRun),
      onError: (err) => this.diag.error(err),
      closed: () => this.closed,
    })
  }

  // ---------------------------------------------------------------------- internals

  private assertOpen(): void {
    if (this.closed) throw new DeadLetterError('DLQ_CLOSED', 'dlq: logger is closed')
  }

  private track(p: Promise<unknown>): void {
    const t = p.catch((err) => this.diag.error(err)).finally(() => this.background.delete(t))
    this.background.add(t)
  }

  private onSealed(kind: LogKind, sealed: string): void {
    this.diag.info({ path: sealed, kind }, `dlq: sealed segment ${path.basename(sealed)}`)
    if (this.options.compress) this.track(this.compress(sealed))
    if (kind === 'permanent' && (this.options.maxBackups !== undefined || this.options.maxAge !== undefined)) {
      this.track(this.retention.applyRetention())
    }
    if (kind === 'retry' && this.options.maxRetryBytes !== undefined) {
      this.track(this.retention.retrySealed(sealed))
    }
    // Last, once the follow-up work is scheduled and the cap counts the sealed bytes: a
    // listener sees a consistent logger, and what it throws is reported, never rethrown.
    this.diag.emit('rotated', { kind, path: sealed })
  }

  private async compress(file: string): Promise<void> {
    try {
      const gz = await compressSegment(file, this.options.mode)
      this.diag.debug({ path: gz }, `dlq: compressed ${path.basename(file)}`)
    } catch (err) {
      // The uncompressed segment is still there and still replayable.
      this.diag.warn(`could not compress ${file}; it stays uncompressed`, err)
    }
  }

  // ---------------------------------------------------------------------- ownership

  /** Set once another live process holds our lock: every later call rejects with it. */
  private lost: DeadLetterError | undefined

  private loseOwnership(err: DeadLetterError): void {
    if (this.lost) return
    this.lost = err
    this.retry.fail(err)
    this.permanent.fail(err)
    this.diag.error(err)
  }
}
