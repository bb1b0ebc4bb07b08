/**
 * The replay engine: walks sealed retry segments oldest first and feeds each due item to a
 * handler, at least once, resumable after a crash at any instruction.
 *
 * Durability order (the invariant everything else rests on): re-logged, permanent and
 * quarantined records are appended to files this replayer owns → those files are fsynced →
 * only then is the segment's checkpoint written (atomically) → only after the final
 * checkpoint is a finished segment and its state file removed. A crash anywhere therefore
 * redoes at most the items after the last checkpoint: duplicates, never loss.
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { isUtf8 } from 'node:buffer'
import pRetry, { AbortError } from 'p-retry'
import { DeadLetterError, ioError, isPermanentError, systemCodeOf } from './errors.js'
import { backoffDelay } from './backoff.js'
import { readCheckpoint, removeCheckpoint, writeCheckpoint, type Checkpoint, type OutputMark } from './checkpoint.js'
import { type Envelope, type EnvelopeHeader, type FinalReason, EnvelopeParseError, encodeHeader, encodeTrailer, parseEnvelope, rawPayloadOf, describeReason, type ReasonParts } from './envelope.js'
import { readLines, type LineHandler } from './lines.js'
import { FileLock, inspectLock } from './lock.js'
import { type LoggerLike, type ReplayOptions, type ResolvedReplayOptions, resolveReplayOptions } from './options.js'
import { OutputFile } from './outputs.js'
import { O_NOFOLLOW, fsyncDirSync } from './fs-safe.js'
import { sealLog } from './maintenance.js'
import { recoverLog } from './store/recovery.js'
import { type LogPaths, type SegmentInfo, listSegments, logPaths, statePathOf } from './segments.js'
import type { ByteSink } from './sink.js'

export type Handler<T = unknown> = (payload: T, envelope: ReplayEnvelope<T>) => unknown | Promise<unknown>

/** The envelope as given to a handler: the record plus where it was read from. */
export interface ReplayEnvelope<T = unknown> extends Envelope<T> {
  segment: string
  offset: number
}

export interface ReplaySummary {
  /** Items taken from the log (every outcome below counts once). */
  handled: number
  /** The handler was called for this many items (in a dry run: would have been). */
  due: number
  delivered: number
  /** Failed and re-logged with attempt + 1 and a due time. */
  requeued: number
  /** Not yet due: carried forward unchanged. */
  deferred: number
  /** Moved to the permanent log: attempts exhausted or PermanentError. */
  permanent: number
  /** Moved to the permanent log because older than `ttl`. */
  expired: number
  /** Lines quarantined to the corrupt log. */
  corrupt: number
  /** Segments read (fully or partly). */
  segments: number
  /** Segments fully accounted for and removed. */
  segmentsRemoved: number
  /** Uncompressed bytes read. */
  bytes: number
  durationMs: number
  /** True when stopped early by the signal (in-flight items finished, checkpoint written). */
  aborted: boolean
  /** True when stopped by `limit`. */
  limited: boolean
  dryRun: boolean
  /** Warnings such as "the live writer did not answer the seal request". */
  warnings: string[]
}

export interface ReplayProgress {
  bytesDone: number
  bytesTotal: number
  items: number
  segment: string
}

export type ReplayOutcome = 'delivered' | 'requeued' | 'deferred' | 'permanent' | 'expired' | 'corrupt'

export interface OutcomeEvent {
  outcome: ReplayOutcome
  segment: string
  offset: number
  envelope?: Envelope
  reason?: string | null
  error?: string
}

export interface ReplayerEvents {
  progress: [ReplayProgress]
  delivered: [OutcomeEvent]
  requeued: [OutcomeEvent]
  deferred: [OutcomeEvent]
  permanent: [OutcomeEvent]
  expired: [OutcomeEvent]
  corrupt: [OutcomeEvent]
  warning: [Error]
}

/** How the active segment gets sealed: by the in-process writer, or by the cross-process dance. */
export interface ReplayContext {
  sealActive?: () => Promise<{ retry: string | null; permanent: string | null }>
  logger?: LoggerLike
  emitter?: EventEmitter
}

const RAW_CAP = 64 * 1024

class Abort extends Error {}

/** Wraps handler failures so p-retry retries every error, not only non-TypeErrors. */
class AttemptFailed extends Error {
  constructor(readonly original: unknown) {
    super('attempt failed')
  }
}

interface InFlight {
  next: number
  done: boolean
}

export class Replayer extends EventEmitter<ReplayerEvents> {
  readonly paths: LogPaths
  readonly options: ResolvedReplayOptions
  private readonly handler: Handler
  private readonly ctx: ReplayContext
  private readonly summary: ReplaySummary
  private retryOut!: OutputFile
  private permOut!: OutputFile
  private corruptOut!: OutputFile
  private stopReason: 'abort' | 'limit' | undefined
  private failure: unknown
  private bytesTotal = 0
  private bytesBefore = 0
  private lastProgress = 0
  private oversizedFile: { segment: string; offset: number; file: string; fd: number } | undefined

  constructor(logPath: string, handler: Handler, options?: ReplayOptions, ctx: ReplayContext = {}) {
    super()
    if (typeof logPath !== 'string' || logPath.length === 0) {
      throw new DeadLetterError('DLQ_INVALID_ARGUMENT', 'dlq: replay() needs the log file path')
    }
    if (typeof handler !== 'function') {
      throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: replay() needs a handler function, got ${typeof handler}`)
    }
    this.paths = logPaths(logPath)
    this.options = resolveReplayOptions(options)
    this.handler = handler
    this.ctx = ctx
    this.summary = {
      handled: 0,
      due: 0,
      delivered: 0,
      requeued: 0,
      deferred: 0,
      permanent: 0,
      expired: 0,
      corrupt: 0,
      segments: 0,
      segmentsRemoved: 0,
      bytes: 0,
      durationMs: 0,
      aborted: false,
      limited: false,
      dryRun: this.options.dryRun,
      warnings: [],
    }
  }

  async run(): Promise<ReplaySummary> {
    const started = Date.now()
    const { options: o, paths } = this
    const lock = o.dryRun ? undefined : await FileLock.acquire(paths.replayLock, 'replay', o.mode)
    try {
      if (!o.dryRun) {
        // Before sealing: orphaned checkpoints are swept first, so a freshly sealed segment can
        // never be matched with a stale checkpoint of an earlier file of the same name.
        await recoverLog(paths, o.mode) // the one recovery every entry point runs (src/store/recovery.ts)
        await this.sealActive()
      }
      this.retryOut = OutputFile.segment(paths.retry, o.mode)
      this.permOut = OutputFile.segment(paths.permanent, o.mode)
      this.corruptOut = OutputFile.shared(paths.corrupt, o.mode)
      const segments = await listSegments(paths.retry)
      // Listed first (our own new files are not replayed in this run), then created, so the
      // checkpoint at each segment's start names every file this run may write to.
      if (!o.dryRun) await Promise.all([this.retryOut.open(), this.permOut.open(), this.corruptOut.open()])
      if (o.dryRun) {
        // A dry run may not seal the active file, but a real run would replay it: read it as
        // is — unless a writer is alive, whose active file we never read (its last line may
        // be half-written and would be reported as corrupt).
        const writer = await inspectLock(paths.writerLock).catch(() => ({ state: 'alive' as const }))
        const st = writer.state === 'alive' ? undefined : await fsp.lstat(paths.active).catch(() => undefined)
        if (st?.isFile() && st.size > 0) {
          segments.push({ path: paths.active, key: paths.active, owner: 'writer', seq: 0, gz: false, size: st.size, mtimeMs: st.mtimeMs })
        }
      }
      this.bytesTotal = segments.reduce((n, s) => n + s.size, 0)
      for (const seg of segments) {
        if (this.shouldStop()) break
        await this.replaySegment(seg)
        this.bytesBefore += seg.size
        if (this.failure !== undefined) break
        // bytesBefore already counts this segment: passing its size again reported 2× done.
        this.emitProgress(seg, 0)
      }
      if (this.failure === undefined && !o.dryRun) {
        await Promise.all([this.retryOut.close(), this.permOut.close(), this.corruptOut.close()])
        for (const out of [this.retryOut, this.permOut, this.corruptOut]) out.removeIfEmpty()
      }
    } catch (err) {
      this.failure ??= err
    } finally {
      if (this.failure !== undefined) {
        this.retryOut?.abandon()
        this.permOut?.abandon()
        this.corruptOut?.abandon()
      }
      await lock?.release()
    }
    if (this.failure !== undefined) {
      // Every error leaving the library is a DeadLetterError; a raw fs error (ENOSPC from a
      // state file, an unlink…) keeps its code as systemCode.
      throw this.failure instanceof DeadLetterError || systemCodeOf(this.failure) === undefined
        ? this.failure
        : ioError(`replay ${this.paths.active}`, this.failure)
    }
    this.summary.aborted = this.stopReason === 'abort'
    this.summary.limited = this.stopReason === 'limit'
    this.summary.durationMs = Date.now() - started
    this.ctx.logger?.info({ summary: this.summary }, 'dlq: replay finished')
    return this.summary
  }

  // ------------------------------------------------------------------ setup

  private async sealActive(): Promise<void> {
    const { paths, options: o } = this
    if (this.ctx.sealActive) {
      await this.ctx.sealActive()
      return
    }
    const res = await sealLog(paths, { timeout: o.sealTimeout, mode: o.mode, signal: o.signal })
    if (res.by === 'timeout') {
      this.warn(`the live writer did not answer the seal request within ${o.sealTimeout} ms; replaying sealed segments only`)
    } else if (res.error) {
      this.warn(`the live writer could not seal its active segment: ${res.error}`)
    }
  }

  // ------------------------------------------------------------------ per segment

  private async replaySegment(seg: SegmentInfo): Promise<void> {
    const { options: o } = this
    const segName = path.basename(seg.key)
    const statePath = statePathOf(seg)
    let start = 0
    let items = 0
    const cp = await readCheckpoint(statePath, segName)
    if (cp.status === 'ok') {
      start = cp.checkpoint.offset
      items = cp.checkpoint.items
      if (!seg.gz && start > seg.size) {
        this.warn(`checkpoint of ${segName} is past its end; replaying it from the start (duplicates possible)`)
        start = 0
        items = 0
      }
    } else if (cp.status === 'corrupt') {
      this.warn(`checkpoint of ${segName} is unreadable (${cp.reason}); replaying it from the start (duplicates possible)`)
    }
    this.summary.segments++

    // Items in order of reading; the checkpoint only moves over the finished prefix.
    const window: InFlight[] = []
    let windowHead = 0
    let safeOffset = start
    let safeItems = items
    let sinceCheckpoint = 0
    let lastCheckpointAt = Date.now()
    const running = new Set<Promise<void>>()

    const advance = () => {
      while (windowHead < window.length && window[windowHead].done) {
        safeOffset = window[windowHead].next
        safeItems++
        windowHead++
        // Counts the covered prefix, not completions: an item done out of order is not covered yet.
        sinceCheckpoint++
      }
      if (windowHead > 1024 && windowHead * 2 > window.length) {
        window.splice(0, windowHead)
        windowHead = 0
      }
    }

    const checkpoint = async () => {
      if (o.dryRun) return
      // Cover only items done before the sync starts: one finishing during it (concurrency > 1)
      // may still have its re-log in memory, past the synced bytes and the output marks.
      const offset = safeOffset
      const doneItems = safeItems
      const counted = sinceCheckpoint
      await Promise.all([this.retryOut.sync(), this.permOut.sync(), this.corruptOut.sync()])
      const outputs = [this.retryOut.mark(), this.permOut.mark(), this.corruptOut.mark()].filter(
        (m): m is OutputMark => m !== undefined,
      )
      const c: Checkpoint = { segment: segName, offset, items: doneItems, updatedAt: Date.now(), outputs }
      await writeCheckpoint(statePath, c, o.mode)
      sinceCheckpoint -= counted
      lastCheckpointAt = Date.now()
    }

    const checkpointDue = () => sinceCheckpoint >= o.checkpointEvery || Date.now() - lastCheckpointAt >= o.checkpointInterval

    const maybeCheckpoint = async () => {
      if (checkpointDue()) await checkpoint()
    }

    const track = (slot: InFlight, p: Promise<void>) => {
      const t = p
        .catch((err) => {
          this.failure ??= err
        })
        .finally(() => {
          slot.done = this.failure === undefined
          running.delete(t)
          if (slot.done) advance()
        })
      running.add(t)
    }

    const onItem = (slot: InFlight, work: () => void | Promise<void>): void | Promise<void> => {
      let r: void | Promise<void>
      try {
        r = work()
      } catch (err) {
        return guard(Promise.reject(err))
      }
      if (r === undefined) {
        slot.done = true
        advance()
        // Settled synchronously (no-op or sync handler) with nothing due: no promise per item.
        if (this.failure === undefined && !checkpointDue()) {
          this.progress(seg, slot.next - start)
          return
        }
      }
      return guard(runItem(slot, r))
    }

    const guard = async (p: Promise<void>): Promise<void> => {
      try {
        await p
      } catch (err) {
        if (!(err instanceof Abort)) this.failure ??= err
        throw new Abort()
      }
    }

    const runItem = async (slot: InFlight, r: void | Promise<void>): Promise<void> => {
      if (r === undefined) {
        // Already marked done by onItem.
      } else if (o.concurrency === 1) {
        await r
        slot.done = true
        advance()
      } else {
        track(slot, r)
        // Read no further than `concurrency` items past the done prefix: a slow item must not
        // let the window (memory, and the items a crash redoes) grow without bound behind it.
        while (running.size > 0 && (running.size >= o.concurrency || window.length - windowHead >= o.concurrency)) {
          await Promise.race(running)
        }
      }
      if (this.failure !== undefined) throw new Abort()
      await maybeCheckpoint()
      this.progress(seg, slot.next - start)
    }

    const handler: LineHandler = {
      line: (buf, s, e, offset, next, torn) => {
        const slot: InFlight = { next, done: false }
        window.push(slot)
        this.summary.handled++
        this.summary.bytes += next - offset
        if (this.options.limit !== undefined && this.summary.handled >= this.options.limit) this.stopReason ??= 'limit'
        return onItem(slot, () => this.processLine(buf, s, e, segName, offset, torn))
      },
      oversizedBytes: (offset, piece) => {
        if (!o.dryRun) this.keepOversized(segName, offset, piece)
      },
      oversized: (head, offset, next, length) => {
        const slot: InFlight = { next, done: false }
        window.push(slot)
        this.summary.handled++
        this.summary.bytes += next - offset
        const rawFile = o.dryRun ? undefined : this.finishOversized()
        return onItem(slot, () =>
          this.quarantine(
            segName,
            offset,
            head,
            length,
            `record of ${length} bytes exceeds maxRecordSize (${o.maxRecordSize}); complete line kept in ${rawFile}`,
            true,
            rawFile,
          ),
        )
      },
    }

    // Mark where our outputs stand before the first item of this segment, so a crash before
    // its first regular checkpoint still lets recovery cut off this segment's partial outputs.
    if (!o.dryRun) await checkpoint()
    const read = async (from: number) => {
      try {
        return await readLines(seg.path, seg.gz, from, o.maxRecordSize, handler, () => this.shouldStop())
      } catch (err) {
        // Compressed by the writer since we listed it: same records, same key and checkpoint.
        if (seg.gz || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        seg.path += '.gz'
        seg.gz = true
        return readLines(seg.path, true, from, o.maxRecordSize, handler, () => this.shouldStop())
      }
    }
    let result = await read(start)
    if (result.badStart) {
      // Nothing was delivered; resuming mid-line would quarantine (lose) the cut record.
      const where = result.badStart === 'past-end' ? 'past its end' : 'not at a line boundary'
      this.warn(`checkpoint of ${segName} is ${where}; replaying it from the start (duplicates possible)`)
      start = safeOffset = safeItems = 0
      result = await read(0)
    }
    await Promise.allSettled([...running])
    advance()
    // A failed item (e.g. ENOSPC on a re-log): stop without a checkpoint past it.
    if (this.failure !== undefined) return

    if (result.error && !o.dryRun) {
      // A corrupt or truncated .gz (or an I/O error mid-file): quarantine the rest of the file
      // as one item, move the file aside, and go on with the next segment.
      // Our own write failures (e.g. ENOSPC keeping an over-limit line) are not damage.
      if (!(result.error instanceof DeadLetterError) && (seg.gz || (result.error as NodeJS.ErrnoException).code?.startsWith('Z_'))) {
        const aside = freeName(path.join(path.dirname(seg.path), `corrupt-${path.basename(seg.path)}`))
        await this.quarantine(
          segName,
          safeOffset,
          Buffer.alloc(0),
          0,
          `unreadable compressed data after byte ${result.end}: ${result.error.message}; file kept as ${path.basename(aside)}`,
          false,
        )
        await checkpoint()
        try {
          // link, not rename: never replace an earlier set-aside file of the same name.
          await fsp.link(seg.path, aside)
          await fsp.unlink(seg.path)
        } catch (err) {
          throw ioError(`set aside ${seg.path}`, err)
        }
        await removeCheckpoint(statePath)
        this.summary.segmentsRemoved++
        return
      }
      throw ioError(`read ${seg.path}`, result.error)
    }
    if (o.dryRun) return
    await checkpoint()
    if (result.stopped || this.shouldStop()) {
      if (safeOffset < (seg.gz ? Number.MAX_SAFE_INTEGER : seg.size) || result.stopped) return
    }
    // Everything accounted for and durable: the segment can go.
    await fsp.unlink(seg.path).catch((err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`remove ${seg.path}`, err)
    })
    if (seg.gz) await fsp.unlink(seg.key).catch(() => {})
    // A copy the writer's compression finished while we read: the same, already replayed, records.
    else await fsp.unlink(`${seg.path}.gz`).catch(() => {})
    await removeCheckpoint(statePath)
    this.summary.segmentsRemoved++
  }

  private shouldStop(): boolean {
    if (this.failure !== undefined) return true
    if (this.options.signal?.aborted) this.stopReason ??= 'abort'
    return this.stopReason !== undefined
  }

  // ------------------------------------------------------------------ per item

  private processLine(buf: Buffer, s: number, e: number, segment: string, offset: number, torn: boolean): void | Promise<void> {
    const o = this.options
    // Tolerate CRLF from hand-edited files.
    if (e > s && buf[e - 1] === 0x0d) e--
    if (e === s) return this.quarantine(segment, offset, buf.subarray(s, e), 0, 'empty line', false)
    // Decoding turns invalid UTF-8 into U+FFFD, so only a line showing one needs the strict
    // check: the common line costs one native call, not three (subarray, isUtf8, toString).
    const line = buf.toString('utf8', s, e)
    if (line.includes('\uFFFD') && !isUtf8(buf.subarray(s, e))) {
      return this.quarantine(segment, offset, buf.subarray(s, e), e - s, 'invalid UTF-8', false)
    }
    let env: Envelope
    try {
      env = parseEnvelope(line)
    } catch (err) {
      const why = err instanceof EnvelopeParseError ? err.message : String(err)
      return this.quarantine(segment, offset, buf.subarray(s, e), e - s, torn ? `torn record at end of segment (${why})` : why, false)
    }
    const now = o.now()
    const first = env.firstTs ?? env.ts
    if (o.ttl !== undefined && now - first > o.ttl) {
      this.summary.expired++
      return this.toPermanent(line, env, env.attempt, env.reason, 'expired', segment, offset, undefined)
    }
    if (env.attempt >= o.maxAttempts) {
      this.summary.permanent++
      return this.toPermanent(line, env, env.attempt, env.reason, 'exhausted', segment, offset, undefined)
    }
    if (env.dueTs !== undefined && env.dueTs > now) {
      this.summary.deferred++
      this.emitOutcome('deferred', segment, offset, env)
      if (o.dryRun) return
      return this.retryOut.append((sink) => {
        sink.ensure(e - s + 1)
        sink.len += buf.copy(sink.buf, sink.len, s, e)
        sink.byte(0x0a)
      })
    }
    this.summary.due++
    if (o.dryRun) return
    if (o.retries === 0) return this.deliverNow(line, env, segment, offset)
    return this.deliver(line, env, segment, offset)
  }

  /**
   * retries: 0. A handler that returns without a thenable and without throwing settles the
   * item right here: no promise, no microtask hop per item. Anything else goes on in deliver().
   */
  private deliverNow(line: string, env: Envelope, segment: string, offset: number): void | Promise<void> {
    const renv = env as ReplayEnvelope
    renv.segment = segment
    renv.offset = offset
    try {
      const r = this.handler(env.payload, renv) as { then?: unknown } | null | undefined
      if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') {
        return this.deliver(line, env, segment, offset, r)
      }
    } catch (err) {
      return this.deliver(line, env, segment, offset, Promise.reject(err))
    }
    // Newest property first: V8 then just rolls the object's shape back.
    delete (renv as Partial<ReplayEnvelope>).offset
    delete (renv as Partial<ReplayEnvelope>).segment
    this.summary.delivered++
    this.emitOutcome('delivered', segment, offset, env)
  }

  /**
   * With `handlerTimeout`, a handler call that has not settled in time counts as a failure
   * (the item is re-logged), so one hung call cannot hold the replay and its lock forever.
   * The call itself cannot be cancelled and may still complete later: at-least-once.
   */
  private bounded(result: unknown): unknown {
    const ms = this.options.handlerTimeout
    if (ms === undefined) return result
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`handler did not settle within ${ms} ms`)
        err.name = 'TimeoutError'
        reject(err)
      }, ms)
    })
    return Promise.race([result, timeout]).finally(() => clearTimeout(timer))
  }

  /** `started`: the handler's result when deliverNow() already called it (retries: 0). */
  private async deliver(line: string, env: Envelope, segment: string, offset: number, started?: unknown): Promise<void> {
    const o = this.options
    const renv = env as ReplayEnvelope
    renv.segment = segment
    renv.offset = offset
    let error: unknown
    // A flag, not `error !== undefined`: `throw undefined` / `Promise.reject()` is a failure too.
    let failed = false
    // p-retry checks the signal after a successful attempt too, and rejects with the abort
    // reason while waiting between attempts: what counts is what the handler itself did.
    let handled = false
    let threw = false
    let lastError: unknown
    try {
      if (o.retries === 0) {
        await this.bounded(started ?? this.handler(env.payload, renv))
      } else {
        await pRetry(
          async () => {
            try {
              await this.bounded(this.handler(env.payload, renv))
              handled = true
            } catch (err) {
              threw = true
              lastError = err
              if (isPermanentError(err)) throw new AbortError(err as Error)
              throw new AttemptFailed(err)
            }
          },
          {
            retries: o.retries,
            minTimeout: o.retryDelay,
            maxTimeout: Math.max(o.retryDelay, o.maxWait),
            factor: 2,
            randomize: false,
            signal: o.signal,
          },
        )
      }
    } catch (err) {
      if (!handled) {
        failed = true
        error = threw ? lastError : err
      }
    }
    delete (renv as Partial<ReplayEnvelope>).segment
    delete (renv as Partial<ReplayEnvelope>).offset
    if (!failed) {
      this.summary.delivered++
      this.emitOutcome('delivered', segment, offset, env)
      return
    }
    const reason = describeReason(error)
    const next = env.attempt + 1
    if (isPermanentError(error) || next >= o.maxAttempts) {
      this.summary.permanent++
      return this.toPermanent(line, env, next, reason.text, isPermanentError(error) ? 'permanent' : 'exhausted', segment, offset, reason)
    }
    const now = o.now()
    const header: EnvelopeHeader = {
      ts: now,
      attempt: next,
      reason: reason.text,
      firstTs: env.firstTs ?? env.ts,
      dueTs: now + backoffDelay(env.attempt, o.initialWait, o.maxWait, o.random),
      ...(reason.errorName !== undefined ? { errorName: reason.errorName } : {}),
      ...(reason.errorCode !== undefined ? { errorCode: reason.errorCode } : {}),
    }
    this.summary.requeued++
    this.emitOutcome('requeued', segment, offset, env, reason.text)
    await this.retryOut.append((sink) => writeEnvelope(sink, header, env.id, rawPayloadOf(line, env)))
  }

  private toPermanent(
    line: string,
    env: Envelope,
    attempt: number,
    reasonText: string | null,
    final: FinalReason,
    segment: string,
    offset: number,
    reason: ReasonParts | undefined,
  ): void | Promise<void> {
    this.emitOutcome(final === 'expired' ? 'expired' : 'permanent', segment, offset, env, reasonText)
    if (this.options.dryRun) return
    const header: EnvelopeHeader = {
      ts: this.options.now(),
      attempt,
      reason: reasonText,
      firstTs: env.firstTs ?? env.ts,
      final,
    }
    const errorName = reason ? reason.errorName : env.errorName
    const errorCode = reason ? reason.errorCode : env.errorCode
    if (errorName !== undefined) header.errorName = errorName
    if (errorCode !== undefined) header.errorCode = errorCode
    return this.permOut.append((sink) => writeEnvelope(sink, header, env.id, rawPayloadOf(line, env)))
  }

  /**
   * An over-limit line is never cut down to its head: its bytes stream into a file of their
   * own, `corrupt-<segment>.<offset>.line`, named by position so a redo after a crash
   * rewrites the same file. It is made durable before the quarantine record that names it.
   */
  private keepOversized(segment: string, offset: number, piece: Buffer): void {
    let k = this.oversizedFile
    if (k === undefined || k.offset !== offset || k.segment !== segment) {
      if (k) this.finishOversized()
      const file = path.join(this.paths.dir, `corrupt-${segment}.${offset}.line`)
      try {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | O_NOFOLLOW, this.options.mode)
        k = this.oversizedFile = { segment, offset, file, fd }
      } catch (err) {
        throw ioError(`create ${file}`, err)
      }
    }
    let off = 0
    try {
      while (off < piece.length) off += fs.writeSync(k.fd, piece, off, piece.length - off)
    } catch (err) {
      throw ioError(`write ${k.file}`, err)
    }
  }

  /** Sync and close the file of the over-limit line just read; its name, for the record. */
  private finishOversized(): string | undefined {
    const k = this.oversizedFile
    if (!k) return undefined
    this.oversizedFile = undefined
    try {
      fs.fsyncSync(k.fd)
    } catch (err) {
      fs.closeSync(k.fd)
      throw ioError(`fsync ${k.file}`, err)
    }
    fs.closeSync(k.fd)
    fsyncDirSync(this.paths.dir)
    return path.basename(k.file)
  }

  private quarantine(
    segment: string,
    offset: number,
    raw: Buffer,
    length: number,
    error: string,
    truncated: boolean,
    rawFile?: string,
  ): void | Promise<void> {
    this.summary.corrupt++
    this.emitOutcome('corrupt', segment, offset, undefined, undefined, error)
    if (this.options.dryRun) return
    const capped = raw.subarray(0, RAW_CAP)
    const utf8 = isUtf8(capped)
    const rec = {
      ts: this.options.now(),
      segment,
      offset,
      length,
      error,
      rawEncoding: utf8 ? 'utf8' : 'base64',
      raw: utf8 ? capped.toString('utf8') : capped.toString('base64'),
      rawTruncated: truncated || raw.length > RAW_CAP,
      ...(rawFile ? { rawFile } : {}),
    }
    return this.corruptOut.append((sink) => {
      sink.utf8(JSON.stringify(rec))
      sink.byte(0x0a)
    })
  }

  // ------------------------------------------------------------------ reporting

  private emitOutcome(outcome: ReplayOutcome, segment: string, offset: number, envelope?: Envelope, reason?: string | null, error?: string): void {
    const targets = [this as EventEmitter, this.ctx.emitter].filter((t): t is EventEmitter => !!t && t.listenerCount(outcome) > 0)
    if (targets.length === 0) return
    const ev: OutcomeEvent = { outcome, segment, offset }
    if (envelope) ev.envelope = envelope
    if (reason !== undefined) ev.reason = reason
    if (error !== undefined) ev.error = error
    for (const t of targets) t.emit(outcome, ev)
  }

  private progress(seg: SegmentInfo, doneInSeg: number): void {
    const now = Date.now()
    if (now - this.lastProgress < 100) return
    this.lastProgress = now
    this.emitProgress(seg, doneInSeg)
  }

  private emitProgress(seg: SegmentInfo, doneInSeg: number): void {
    const p: ReplayProgress = {
      bytesDone: this.bytesBefore + Math.min(doneInSeg, seg.size),
      bytesTotal: this.bytesTotal,
      items: this.summary.handled,
      segment: path.basename(seg.path),
    }
    if (this.listenerCount('progress') > 0) this.emit('progress', p)
    if (this.ctx.emitter && this.ctx.emitter.listenerCount('progress') > 0) this.ctx.emitter.emit('progress', p)
  }

  private warn(message: string): void {
    this.summary.warnings.push(message)
    this.ctx.logger?.warn({}, `dlq: ${message}`)
    const err = new Error(`dlq: ${message}`)
    if (this.listenerCount('warning') > 0) this.emit('warning', err)
    if (this.ctx.emitter && this.ctx.emitter.listenerCount('warning') > 0) this.ctx.emitter.emit('warning', err)
  }
}

/** `file`, or `file.1`, `file.2`, … : the first name not taken. */
function freeName(file: string): string {
  if (!fs.existsSync(file)) return file
  for (let n = 1; ; n++) if (!fs.existsSync(`${file}.${n}`)) return `${file}.${n}`
}

function writeEnvelope(sink: ByteSink, h: EnvelopeHeader, id: string | undefined, rawPayload: string): void {
  encodeHeader(sink, h.ts, h.attempt, h.reason, id, h)
  sink.utf8(rawPayload)
  encodeTrailer(sink)
}

/**
 * Replay a log from any process, e.g. a cron script. Takes the replay lock (DLQ_REPLAY_LOCKED
 * if another replay runs), asks a live writer to seal its active segment (or seals it itself
 * when no writer is alive), and writes re-logs and permanent records to segments it owns.
 */
export function replay<T = unknown>(logPath: string, handler: Handler<T>, options?: ReplayOptions): Promise<ReplaySummary> {
  try {
    return new Replayer(logPath, handler as Handler, options).run()
  } catch (err) {
    return Promise.reject(err)
  }
}

/** Used by Logger.replay(): same engine, sealing through the in-process writer. */
export function runReplay(logPath: string, handler: Handler, options: ReplayOptions | undefined, ctx: ReplayContext): Promise<ReplaySummary> {
  return new Replayer(logPath, handler, options, ctx).run()
}
