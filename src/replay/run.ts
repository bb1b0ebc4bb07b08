/**
 * The replay engine: walks sealed retry segments oldest first and feeds each due item to a
 * handler, at least once, resumable after a crash at any instruction.
 *
 * Durability order (the invariant everything else rests on): re-logged, permanent and
 * quarantined records are appended to files this replayer owns → those files are fsynced →
 * only then is the segment's checkpoint written → only after the final checkpoint is a
 * finished segment and its state file removed. A crash anywhere therefore redoes at most the
 * items after the last checkpoint: duplicates, never loss.
 *
 * A segment whose metadata sidecar shows nothing due yet (and nothing expiring, with `ttl`)
 * is left in place unread: a run costs what is due, not the size of the backlog.
 */
import { EventEmitter } from 'node:events'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { DeadLetterError, ioError, systemCodeOf } from '../base/errors.js'
import { FileLock, inspectLock } from '../store/lock.js'
import { type ReplayOptions, type ResolvedReplayOptions, resolveReplayOptions } from '../base/options.js'
import { sealLog } from '../store/seal.js'
import { type LogPaths, type SegmentInfo, listSegments, logPaths } from '../store/segments.js'
import { readSegmentMeta } from '../store/counts/segment-meta.js'
import { logPathArg, resolveLogPath } from '../store/log-path.js'
import { recoverLog } from '../store/recovery.js'
import { Deliverer } from './deliver.js'
import { ItemProcessor } from './items.js'
import { OversizedKeeper } from '../store/oversized.js'
import { ReplayOutputs } from './outputs.js'
import { Reporter } from './report.js'
import { type RunScope, SegmentRun } from './segment-run.js'
import { type Handler, type ReplayContext, type ReplayEnvelope, type ReplayListeners, type ReplaySummary, type ReplayerEvents, OUTCOMES, emptySummary } from './types.js'
import { fn } from '../base/checks.js'
import { ProcessSpans } from '../base/trace.js'

export class Replayer extends EventEmitter<ReplayerEvents> {
  readonly paths: LogPaths
  readonly options: ResolvedReplayOptions
  private readonly handler: Handler
  private readonly ctx: ReplayContext
  private readonly report: Reporter
  private stopReason: 'abort' | 'limit' | undefined
  private failure: unknown
  private current: SegmentRun | undefined
  private spans: ProcessSpans<ReplayEnvelope> | undefined

  constructor(logPath: string, handler: Handler, options?: ReplayOptions, ctx: ReplayContext = {}) {
    super()
    if (typeof handler !== 'function') {
      throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: replay() needs a handler function, got ${typeof handler}`)
    }
    this.paths = logPaths(logPathArg('replay', logPath))
    this.options = resolveReplayOptions(options)
    this.handler = handler
    this.ctx = ctx
    this.report = new Reporter(emptySummary(this.options.dryRun), this, ctx.emitter, ctx.logger)
  }

  async run(): Promise<ReplaySummary> {
    const started = Date.now()
    const { options: o, paths } = this
    await resolveLogPath('replay', paths.active) // a dry run too: a missing directory is not an empty log
    const lock = o.dryRun ? undefined : await FileLock.acquire(paths.replayLock, 'replay', o.mode, { operation: 'replay' })
    this.report.watch()
    let outputs: ReplayOutputs | undefined
    let oversized: OversizedKeeper | undefined
    try {
      if (!o.dryRun) await this.prepare()
      if (o.trace && !o.dryRun) this.spans = await this.startSpans()
      // Listed before any output exists: our own new files are not replayed in this run.
      const segments = await listSegments(paths.retry)
      if (o.dryRun) await this.addActiveForDryRun(segments)
      if (!o.dryRun) {
        outputs = new ReplayOutputs(paths, o.mode, o.now(), (file, size) => this.current?.newOutputFile(file, size), o.maxRecordSize)
        oversized = new OversizedKeeper(paths.dir, o.mode)
      }
      await this.replaySegments(segments, this.scope(outputs, oversized))
      if (this.failure === undefined) await outputs?.close()
    } catch (err) {
      this.failure ??= err
    } finally {
      if (this.failure !== undefined) {
        outputs?.abandon()
        oversized?.abandon()
      }
      this.spans?.flush()
      this.report.close()
      await lock?.release()
    }
    return this.finish(started)
  }

  /**
   * Under the replay lock, before sealing. Crash recovery (an interrupted requeue/purge, then
   * our own outputs and state) comes first, so a freshly sealed segment can never be matched
   * with a stale checkpoint of an earlier file of the same name.
   */
  private async prepare(): Promise<void> {
    const recovery = await recoverLog(this.paths, this.options.mode) // the one recovery every entry point runs (src/store/recovery.ts)
    this.report.summary.recovered = recovery.rewrite ?? null
    await this.sealActive()
  }

  private async replaySegments(segments: SegmentInfo[], scope: RunScope): Promise<void> {
    this.report.bytesTotal = segments.reduce((n, s) => n + s.size, 0)
    for (const seg of segments) {
      if (this.shouldStop()) break
      if (!(await this.skipIfNothingDue(seg))) {
        this.current = new SegmentRun(seg, scope)
        try {
          await this.current.run()
        } finally {
          this.current = undefined
        }
      }
      this.report.bytesBefore += seg.size
      if (this.failure !== undefined) break
      this.report.progressNow(seg, 0)
    }
  }

  /**
   * Its metadata shows every item due later than now (and, with `ttl`, none expiring): the
   * segment stays as it is, unread. Corrupt lines or missing/stale metadata mean reading it.
   */
  private async skipIfNothingDue(seg: SegmentInfo): Promise<boolean> {
    const o = this.options
    const meta = await readSegmentMeta(seg).catch(() => undefined)
    if (!meta || meta.corrupt > 0 || meta.items === 0 || meta.minDue === null) return false
    // An exhausted item goes to the permanent log whether or not it is due: read the segment.
    if (meta.maxAttempt === undefined || meta.maxAttempt >= o.maxAttempts) return false
    const now = o.now()
    if (meta.minDue <= now) return false
    if (o.ttl !== undefined && (meta.minTs === null || now - meta.minTs > o.ttl)) return false
    // Its items are accounted for as carried forward (in place), as if read one by one.
    const s = this.report.summary
    s.segmentsSkipped++
    s.deferred += meta.items
    s.handled += meta.items
    // Items left in place were not taken: they must not use up `limit`, or a run would stop
    // before reaching the due items behind them, and so would every later run.
    this.report.left += meta.items
    return true
  }

  private scope(outputs: ReplayOutputs | undefined, oversized: OversizedKeeper | undefined): RunScope {
    const o = this.options
    const deliverer = new Deliverer(this.handler, o, this.spans)
    return {
      o,
      report: this.report,
      items: new ItemProcessor(o, this.report, outputs, deliverer),
      outputs,
      oversized,
      fail: (err) => {
        this.failure ??= err
      },
      failed: () => this.failure !== undefined,
      shouldStop: () => this.shouldStop(),
      limitReached: () => {
        this.stopReason ??= 'limit'
      },
    }
  }

  /** Spans named after the log as shipping names it by default (its absolute path): one name on both backends. */
  private startSpans(): Promise<ProcessSpans<ReplayEnvelope> | undefined> {
    const log = path.resolve(this.paths.active)
    return ProcessSpans.start<ReplayEnvelope>(
      this.options.traceParent,
      { destination: () => log, where: (env) => `the item at byte ${env.offset} of ${env.segment}` },
      (message) => this.report.warn(message),
    )
  }

  private finish(started: number): ReplaySummary {
    if (this.failure !== undefined) {
      // Every error leaving the library is a DeadLetterError; a raw fs error (ENOSPC from a
      // state file, an unlink…) keeps its code as systemCode.
      throw this.failure instanceof DeadLetterError || systemCodeOf(this.failure) === undefined
        ? this.failure
        : ioError(`replay ${this.paths.active}`, this.failure)
    }
    const summary = this.report.summary
    summary.stopped = this.stopReason ?? null
    summary.durationMs = Date.now() - started
    this.report.info({ summary }, 'dlq: replay finished')
    return summary
  }

  private async sealActive(): Promise<void> {
    const { paths, options: o } = this
    if (this.ctx.sealActive) {
      await this.ctx.sealActive()
      return
    }
    const res = await sealLog(paths, { timeout: o.sealTimeout, mode: o.mode, signal: o.signal })
    if (res.by === 'timeout') {
      this.report.warn(`the live writer did not answer the seal request within ${o.sealTimeout} ms; replaying sealed segments only`)
    } else if (res.error) {
      this.report.warn(`the live writer could not seal its active segment: ${res.error}`)
    }
  }

  /**
   * A dry run may not seal the active file, but a real run would replay it: read it as is —
   * unless a writer is alive, whose active file we never read (its last line may be
   * half-written and would be reported as corrupt).
   */
  private async addActiveForDryRun(segments: SegmentInfo[]): Promise<void> {
    const { paths } = this
    const writer = await inspectLock(paths.writerLock).catch(() => ({ state: 'alive' as const }))
    const st = writer.state === 'alive' ? undefined : await fsp.lstat(paths.active).catch(() => undefined)
    if (st?.isFile() && st.size > 0) {
      segments.push({ path: paths.active, key: paths.active, owner: 'writer', seq: 0, gz: false, size: st.size, mtimeMs: st.mtimeMs })
    }
  }

  private shouldStop(): boolean {
    if (this.failure !== undefined) return true
    if (this.options.signal?.aborted) this.stopReason ??= 'abort'
    return this.stopReason !== undefined
  }
}

/**
 * Replay a log from any process, e.g. a cron script. Takes the replay lock (DLQ_REPLAY_LOCKED
 * if another replay runs), asks a live writer to seal its active segment (or seals it itself
 * when no writer is alive), and writes re-logs and permanent records to segments it owns.
 */
export function replay<T = unknown>(logPath: string, handler: Handler<T>, options?: ReplayOptions & ReplayListeners): Promise<ReplaySummary> {
  try {
    const { onProgress, onOutcome, ...rest } = options !== null && typeof options === 'object' ? options : ({} as ReplayListeners)
    const r = new Replayer(logPath, handler as Handler, options !== null && typeof options === 'object' ? rest : options)
    // The Replayer's events for a caller without the class; its ListenerGuard covers them.
    if (onProgress !== undefined) {
      const f = fn('onProgress', onProgress)
      r.on('progress', (p) => f({ done: p.bytesDone, total: p.bytesTotal, items: p.items }))
    }
    if (onOutcome !== undefined) for (const o of OUTCOMES) r.on(o, fn('onOutcome', onOutcome))
    return r.run()
  } catch (err) {
    return Promise.reject(err)
  }
}

/** Used by Logger.replay(): same engine, sealing through the in-process writer. */
export function runReplay(logPath: string, handler: Handler, options: ReplayOptions | undefined, ctx: ReplayContext): Promise<ReplaySummary> {
  return new Replayer(logPath, handler, options, ctx).run()
}
