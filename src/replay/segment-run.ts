/**
 * Replaying one segment: where to start (its checkpoint), reading its lines into the item
 * processor, which prefix of items is finished (the window, with concurrency > 1), when to
 * checkpoint, and what to do with the file at the end (remove it, set a damaged one aside).
 *
 * The checkpoint only moves over the finished prefix of items, and only after the outputs
 * those items wrote are fsynced: it never points past an item whose output is not durable.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { type Checkpoint, CheckpointWriter, readCheckpoint } from '../store/checkpoint.js'
import { DeadLetterError, ioError } from '../base/errors.js'
import { type LineHandler, type ReadResult, readLines } from '../format/lines.js'
import type { ResolvedReplayOptions } from '../base/options.js'
import { type SegmentInfo, removeSegment, setAsideName, statePathOf } from '../store/segments.js'
import type { ItemProcessor } from './items.js'
import type { OversizedKeeper } from '../store/oversized.js'
import { type ReplayOutputs, withNewFile } from './outputs.js'
import type { Reporter } from './report.js'

/** What every segment of one run shares (owned by the Replayer). */
export interface RunScope {
  readonly o: ResolvedReplayOptions
  readonly report: Reporter
  readonly items: ItemProcessor
  /** Undefined in a dry run. */
  readonly outputs: ReplayOutputs | undefined
  readonly oversized: OversizedKeeper | undefined
  fail(err: unknown): void
  failed(): boolean
  shouldStop(): boolean
  limitReached(): void
}

interface InFlight {
  next: number
  done: boolean
}

/** The clock is read every this many synchronously settled items (for interval and progress). */
const CLOCK_EVERY = 64

export class SegmentRun implements LineHandler {
  private readonly name: string
  private readonly statePath: string
  private start = 0
  private safeOffset = 0
  private safeItems = 0
  private sinceCheckpoint = 0
  private lastCheckpointAt = Date.now()
  private tick = 0
  private writer: CheckpointWriter | undefined
  /** The newest checkpoint written: a new output file is added to it before its first byte. */
  private last: Checkpoint | undefined
  // Concurrency > 1 only: items in reading order; the checkpoint covers the done prefix.
  private readonly concurrent: boolean
  private window: InFlight[] = []
  private windowHead = 0
  private readonly running = new Set<Promise<void>>()
  private readonly stop: () => boolean

  constructor(
    private readonly seg: SegmentInfo,
    private readonly scope: RunScope,
  ) {
    this.name = path.basename(seg.key)
    this.statePath = statePathOf(seg)
    this.concurrent = scope.o.concurrency > 1
    this.stop = () => scope.shouldStop()
  }

  async run(): Promise<void> {
    const { o, report } = this.scope
    await this.resume()
    report.summary.segments++
    try {
      // Name where our outputs stand before the first item, so a crash before the first
      // regular checkpoint still lets recovery cut off this segment's partial outputs.
      if (!o.dryRun) {
        if (this.scope.outputs!.needsSync()) await this.scope.outputs!.sync()
        this.last = this.checkpointOf(this.safeOffset, this.safeItems)
        this.writer = await CheckpointWriter.open(this.statePath, this.last, o.mode)
      }
      let result = await this.read(this.start)
      if (result.badStart) {
        // Nothing was delivered; resuming mid-line would quarantine (lose) the cut record.
        const where = result.badStart === 'past-end' ? 'past its end' : 'not at a line boundary'
        report.warn(`checkpoint of ${this.name} is ${where}; replaying it from the start (duplicates possible)`)
        this.start = this.safeOffset = this.safeItems = 0
        result = await this.read(0)
      }
      await this.drain()
      // A failed item (e.g. ENOSPC on a re-log): stop without a checkpoint past it.
      if (this.scope.failed() || o.dryRun) return
      if (result.error) return await this.damaged(result)
      await this.checkpoint()
      if (result.stopped || (this.stop() && this.safeOffset < (this.seg.gz ? Number.MAX_SAFE_INTEGER : this.seg.size))) return
      await this.remove()
    } finally {
      this.writer?.close()
    }
  }

  /** Called by the outputs when they open a file: name it (at its size) before it gets a byte. */
  newOutputFile(file: string, size: number): void | Promise<void> {
    if (!this.writer || !this.last) return
    this.last = withNewFile(this.last, file, size)
    return this.writer.write(this.last)
  }

  // ------------------------------------------------------------------ LineHandler

  line(buf: Buffer, s: number, e: number, offset: number, next: number, torn: boolean): void | Promise<void> {
    if (!this.take(offset, next)) return
    let r: void | Promise<void>
    try {
      r = this.scope.items.line(buf, s, e, this.name, offset, torn)
    } catch (err) {
      this.scope.fail(err)
      return
    }
    return this.settle(r, next)
  }

  oversizedBytes(offset: number, piece: Buffer): void {
    if (this.scope.failed() || !this.scope.oversized) return
    try {
      this.scope.oversized.write(this.name, offset, piece)
    } catch (err) {
      this.scope.fail(err)
    }
  }

  oversized(head: Buffer, offset: number, next: number, length: number): void | Promise<void> {
    if (!this.take(offset, next)) return
    let r: void | Promise<void>
    try {
      const rawFile = this.scope.oversized?.finish()
      r = this.scope.items.oversized(head, this.name, offset, length, rawFile)
    } catch (err) {
      this.scope.fail(err)
      return
    }
    return this.settle(r, next)
  }

  // ------------------------------------------------------------------ items

  /** Counts an item as taken; false after a failure (nothing more is taken). */
  private take(offset: number, next: number): boolean {
    if (this.scope.failed()) return false
    const s = this.scope.report.summary
    s.handled++
    s.bytes += next - offset
    if (this.scope.o.limit !== undefined && s.handled - this.scope.report.left >= this.scope.o.limit) this.scope.limitReached()
    return true
  }

  private settle(r: void | Promise<void>, next: number): void | Promise<void> {
    if (this.concurrent) return this.track(r, next)
    if (r === undefined) return this.done(next, false)
    return r.then(
      () => this.done(next, true),
      (err) => this.scope.fail(err),
    )
  }

  /** Concurrency 1: the item just finished is the next of the prefix. */
  private done(next: number, async: boolean): void | Promise<void> {
    this.safeOffset = next
    this.safeItems++
    this.sinceCheckpoint++
    return this.afterProgress(async)
  }

  private afterProgress(async: boolean): void | Promise<void> {
    let now: number | undefined
    if (async || (++this.tick & (CLOCK_EVERY - 1)) === 0) {
      now = Date.now()
      this.scope.report.progress(this.seg, this.safeOffset - this.start, now)
    }
    const o = this.scope.o
    const due =
      this.sinceCheckpoint >= o.checkpointEvery ||
      o.checkpointInterval <= 0 ||
      (now !== undefined && now - this.lastCheckpointAt >= o.checkpointInterval)
    if (!due) return
    try {
      const r = this.checkpoint()
      if (r) return r.catch((err) => this.scope.fail(err))
    } catch (err) {
      this.scope.fail(err)
    }
  }

  /** Concurrency > 1: keep at most `concurrency` items past the done prefix. */
  private track(r: void | Promise<void>, next: number): void | Promise<void> {
    const slot: InFlight = { next, done: false }
    this.window.push(slot)
    if (r === undefined) {
      slot.done = true
      this.advance()
    } else {
      const t: Promise<void> = r
        .then(
          () => {
            slot.done = !this.scope.failed()
          },
          (err) => this.scope.fail(err),
        )
        .finally(() => {
          this.running.delete(t)
          if (slot.done) this.advance()
        })
      this.running.add(t)
    }
    const c = this.scope.o.concurrency
    if (this.running.size > 0 && (this.running.size >= c || this.window.length - this.windowHead >= c)) return this.room(r !== undefined)
    return this.afterProgress(r !== undefined)
  }

  /** A slow item must not let the window (memory, and the items a crash redoes) grow behind it. */
  private async room(async: boolean): Promise<void> {
    const c = this.scope.o.concurrency
    while (this.running.size > 0 && (this.running.size >= c || this.window.length - this.windowHead >= c)) {
      await Promise.race(this.running)
    }
    if (!this.scope.failed()) await this.afterProgress(async)
  }

  private advance(): void {
    const w = this.window
    while (this.windowHead < w.length && w[this.windowHead].done) {
      this.safeOffset = w[this.windowHead].next
      this.safeItems++
      this.windowHead++
      // Counts the covered prefix, not completions: an item done out of order is not covered yet.
      this.sinceCheckpoint++
    }
    if (this.windowHead > 1024 && this.windowHead * 2 > w.length) {
      w.splice(0, this.windowHead)
      this.windowHead = 0
    }
  }

  private async drain(): Promise<void> {
    await Promise.allSettled([...this.running])
    if (this.concurrent) this.advance()
  }

  // ------------------------------------------------------------------ checkpoints

  private checkpointOf(offset: number, items: number): Checkpoint {
    return { segment: this.name, offset, items, updatedAt: Date.now(), outputs: this.scope.outputs?.marks() ?? [] }
  }

  /**
   * Outputs first (fsync, only when something was written), then one slot write. Covers only
   * items done before the sync starts: one finishing during it (concurrency > 1) may still
   * have its re-log in memory, past the synced bytes and the output marks.
   */
  private checkpoint(): void | Promise<void> {
    if (this.scope.o.dryRun || !this.writer) return
    const offset = this.safeOffset
    const items = this.safeItems
    const counted = this.sinceCheckpoint
    const outs = this.scope.outputs!
    if (!outs.needsSync()) return this.commit(offset, items, counted)
    return outs.sync().then(() => this.commit(offset, items, counted))
  }

  private commit(offset: number, items: number, counted: number): void | Promise<void> {
    const cp = this.checkpointOf(offset, items)
    this.last = cp
    this.sinceCheckpoint -= counted
    this.lastCheckpointAt = cp.updatedAt
    return this.writer!.write(cp)
  }

  // ------------------------------------------------------------------ reading and the file

  private async resume(): Promise<void> {
    const cp = await readCheckpoint(this.statePath, this.name)
    if (cp.status === 'ok') {
      this.start = cp.checkpoint.offset
      this.safeItems = cp.checkpoint.items
      if (!this.seg.gz && this.start > this.seg.size) {
        this.scope.report.warn(`checkpoint of ${this.name} is past its end; replaying it from the start (duplicates possible)`)
        this.start = 0
        this.safeItems = 0
      }
    } else if (cp.status === 'corrupt') {
      this.scope.report.warn(`checkpoint of ${this.name} is unreadable (${cp.reason}); replaying it from the start (duplicates possible)`)
    }
    this.safeOffset = this.start
  }

  private async read(from: number): Promise<ReadResult> {
    const { seg } = this
    const max = this.scope.o.maxRecordSize
    try {
      return await readLines(seg.path, seg.gz, from, max, this, this.stop)
    } catch (err) {
      // Compressed by the writer since we listed it: same records, same key and checkpoint.
      if (seg.gz || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      seg.path += '.gz'
      seg.gz = true
      return readLines(seg.path, true, from, max, this, this.stop)
    }
  }

  /**
   * A corrupt or truncated .gz (or an I/O error mid-file). Compressed damage: quarantine the
   * rest of the file as one item, move the file aside, go on with the next segment. Our own
   * write failures (e.g. ENOSPC keeping an over-limit line) are not damage.
   */
  private async damaged(result: ReadResult): Promise<void> {
    const { seg } = this
    const err = result.error!
    if (err instanceof DeadLetterError || !(seg.gz || (err as NodeJS.ErrnoException).code?.startsWith('Z_'))) {
      throw ioError(`read ${seg.path}`, err)
    }
    const aside = await setAsideName(path.dirname(seg.path), `corrupt-${path.basename(seg.path)}`)
    const why = `unreadable compressed data after byte ${result.end}: ${err.message}; file kept as ${path.basename(aside)}`
    await this.scope.items.damaged(this.name, this.safeOffset, why)
    await this.checkpoint()
    try {
      // link, not rename: never replace an earlier set-aside file of the same name.
      await fsp.link(seg.path, aside)
    } catch (e) {
      throw ioError(`set aside ${seg.path}`, e)
    }
    await this.remove({ twins: false })
  }

  /** Everything accounted for and durable: the segment can go, its checkpoint and metadata after it. */
  private async remove(opts?: { twins: false }): Promise<void> {
    this.writer?.close()
    this.writer = undefined
    await removeSegment(this.seg, opts)
    this.scope.report.summary.segmentsRemoved++
  }
}
