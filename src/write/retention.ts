/**
 * What the logger deletes, or refuses to keep: the retry log's size cap (`maxRetryBytes`, with
 * `onFull: 'reject'` or `'drop-oldest'`) and the permanent log's retention (`maxBackups`,
 * `maxAge`). Both remove sealed segments behind the writers' backs, so they share one job
 * queue, and both leave alone the segments a live replay still owns.
 *
 * The cap's running count (`sealedRetryBytes`) is a plain field because log() reads it on
 * every capped call.
 */
import fs from 'node:fs'
import type { Diagnostics } from './diagnostics.js'
import { DeadLetterError } from '../base/errors.js'
import type { EvictedEvent } from './events.js'
import type { ResolvedLoggerOptions } from '../base/options.js'
import { inspectLock } from '../store/lock.js'
import { countLines, listSegments, type LogPaths, removeSegment, type SegmentInfo } from '../store/segments.js'
import type { SegmentWriter } from './writer.js'

export class Retention {
  /** Bytes of the sealed retry segments, as last counted (the active segment is not included). */
  sealedRetryBytes = 0
  /** Retry seals so far: a size listing that raced one is stale. */
  private retrySeals = 0
  /** One retention job (eviction, maxBackups/maxAge) at a time, or two would count one segment twice. */
  private queue: Promise<void> = Promise.resolve()

  constructor(
    private readonly paths: LogPaths,
    private readonly options: Readonly<ResolvedLoggerOptions>,
    private readonly retry: SegmentWriter,
    private readonly diag: Diagnostics,
  ) {}

  // ---------------------------------------------------------------------- retry cap

  /**
   * A record of `size` bytes did not fit under maxRetryBytes: make room by the policy and
   * append it again, or reject with DLQ_FULL.
   */
  async whenFull(size: number, appendAgain: () => Promise<void>): Promise<void> {
    const cap = this.options.maxRetryBytes!
    if (this.options.onFull === 'drop-oldest') {
      if (size <= cap) {
        const run = this.queue.then(async () => {
          await this.refreshRetryBytes()
          if (this.sealedRetryBytes + this.retry.activeSize + size > cap) await this.evictOldest(size)
        })
        this.queue = run.catch(() => {})
        await run
        // append() checks again: when concurrent callers took the room meanwhile, it evicts again.
        return appendAgain()
      }
    } else {
      // The replayer may have drained segments since we last looked.
      await this.refreshRetryBytes()
      if (this.sealedRetryBytes + this.retry.activeSize + size <= cap) {
        return appendAgain()
      }
    }
    throw new DeadLetterError(
      'DLQ_FULL',
      `dlq: retry log is at maxRetryBytes (${cap} bytes); replay it or raise the cap (policy: ${this.options.onFull})`,
    )
  }

  /** A retry segment was sealed; resolves once the sealed bytes were counted again. */
  retrySealed(sealed: string): Promise<void> {
    // Count it now: the writer's active size already dropped to 0, and until a listing sees
    // the sealed file the cap would not count these bytes at all.
    this.retrySeals++
    try {
      this.sealedRetryBytes += fs.statSync(sealed, { throwIfNoEntry: false })?.size ?? 0
    } catch {
      // Unreadable for a moment (EACCES): the listing below counts it, or reports why not.
    }
    return this.refreshRetryBytes()
  }

  async refreshRetryBytes(): Promise<void> {
    if (this.options.maxRetryBytes === undefined) return
    for (;;) {
      const seals = this.retrySeals
      const segs = await listSegments(this.paths.retry)
      // A seal during the listing may be missing from it (retrySealed counted it already): list again.
      if (seals !== this.retrySeals) continue
      this.sealedRetryBytes = segs.reduce((n, s) => n + s.size, 0)
      return
    }
  }

  /** drop-oldest: remove the oldest sealed retry segments until `need` more bytes fit. */
  private async evictOldest(need: number): Promise<void> {
    const cap = this.options.maxRetryBytes!
    let segs = await listSegments(this.paths.retry)
    // When dropping every sealed segment would still not make room, the active one goes too.
    if (this.retry.activeSize > 0 && this.retry.activeSize + need > cap) {
      await this.retry.seal()
      segs = await listSegments(this.paths.retry)
    }
    const ev: EvictedEvent = { kind: 'retry', policy: 'drop-oldest', files: [], records: 0, bytes: 0 }
    let total = segs.reduce((n, s) => n + s.size, 0)
    const busy = await this.replayerBusy()
    try {
      for (const s of segs) {
        if (total + this.retry.activeSize + need <= cap) break
        if (busy && s.owner === 'replayer') continue
        await this.remove(s, ev)
        total -= s.size
      }
    } finally {
      this.sealedRetryBytes = total
      if (ev.files.length > 0) {
        this.diag.warn(`evicted ${ev.records} records (${ev.bytes} bytes) from the retry log: maxRetryBytes reached`)
        this.diag.emit('evicted', ev)
      }
    }
  }

  /** Delete one segment for a policy, counted in its event (a failure rejects: the room was not made). */
  private async remove(s: SegmentInfo, ev: EvictedEvent): Promise<void> {
    const records = await countLines(s)
    await removeSegment(s)
    ev.records += records
    ev.files.push(s.path)
    ev.bytes += s.size
  }

  // ---------------------------------------------------------------------- permanent retention

  /** Apply maxBackups / maxAge to the permanent log (queued behind any running job). */
  applyRetention(): Promise<void> {
    const run = this.queue.then(() => this.applyRetentionNow())
    this.queue = run.catch(() => {})
    return run
  }

  private async applyRetentionNow(): Promise<void> {
    const { maxBackups, maxAge, now } = this.options
    // A live replay may still be appending to its own permanent segment: leave those alone.
    const busy = await this.replayerBusy()
    const segs = (await listSegments(this.paths.permanent)).filter((s) => !(busy && s.owner === 'replayer'))
    const doomed = new Map<string, 'maxBackups' | 'maxAge'>()
    if (maxBackups !== undefined && segs.length > maxBackups) {
      for (const s of segs.slice(0, segs.length - maxBackups)) doomed.set(s.path, 'maxBackups')
    }
    if (maxAge !== undefined) {
      for (const s of segs) if (now() - s.mtimeMs > maxAge && !doomed.has(s.path)) doomed.set(s.path, 'maxAge')
    }
    for (const policy of ['maxBackups', 'maxAge'] as const) {
      const ev: EvictedEvent = { kind: 'permanent', policy, files: [], records: 0, bytes: 0 }
      try {
        for (const s of segs) if (doomed.get(s.path) === policy) await this.remove(s, ev)
      } finally {
        if (ev.files.length > 0) {
          this.diag.info({ ...ev }, `dlq: retention removed ${ev.files.length} permanent segment(s) (${policy})`)
          this.diag.emit('evicted', ev)
        }
      }
    }
  }

  /** True while a replay (in this process or another) holds the replay lock. */
  private async replayerBusy(): Promise<boolean> {
    return (await inspectLock(this.paths.replayLock).catch(() => ({ state: 'alive' as const }))).state === 'alive'
  }
}
