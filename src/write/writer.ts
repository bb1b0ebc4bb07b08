/**
 * Appends encoded envelopes to one segment family (retry or permanent) with group commit.
 *
 * Records are encoded straight into `sink`. The first record after an idle period schedules
 * one write for the end of the current tick; everything logged until then goes out as a
 * single joined `write(2)` (and in fsync mode a single fsync), and every caller in that batch
 * shares one promise.
 *
 * Writes are synchronous calls on our own descriptor, not rotating-file-stream's async
 * `FileHandle.write`. Measured on the 2-core reference machine: a 150-byte synchronous write
 * costs ~0.5 µs, a threadpool write ~6 µs, rotating-file-stream's stream path ~16 µs — the difference between
 * ~60k and several 100k sequential `await log()`s per second. Synchronous writes also make the
 * byte count exact (a full disk can cut a write short without an error: we see it and
 * truncate the partial batch away) and mean no write can be in flight while a file is renamed.
 * A batch is at most `maxBufferedBytes`, which bounds how long one write can block.
 *
 * Every rotation is our own seal (rename to the next sequence, fsync the directory, reopen),
 * queued in the same chain as the writes: size rotation after a batch, rotate(), seal requests,
 * and interval rotation from an unref'd timer set to the next clock boundary. Interval
 * rotation used to be rotating-file-stream's: it renamed the file from its own timer while we
 * paused writes until it reopened, and it swallows its own errors (a failed rename or reopen
 * ended in neither 'open' nor 'error'), so one stalled rotation could hold every later log()
 * forever. Our seal reports its failures and is retried at the next boundary, and nothing in
 * the chain can reject: every batch is settled, whatever fails.
 *
 * Ownership is verified after every batch, not assumed: right after the write(2), before any
 * await, the active path is lstat'ed and compared with our descriptor (dev/ino: one syscall
 * per batch, ~1-3 µs). A write that finished before a rename is inside the renamed file, which
 * whoever renamed it reads after renaming; so when the path no longer leads to our file, the
 * same batch is written again into a freshly opened active file (after the logger has
 * re-established its lock) before the callers are answered. Duplicates are possible, loss is
 * not. (The lock file itself is checked by the logger's timer, not per batch: a lost lock
 * costs no record, because a taker can only take the active file, which this check sees.)
 */
import fs from 'node:fs'
import { promisify } from 'node:util'
import { DeadLetterError, ioError } from '../base/errors.js'
import { APPEND_FLAGS, fsyncDir } from '../base/fs-safe.js'
import { ByteSink } from '../format/sink.js'
import { WarningLimiter } from '../base/warning-limiter.js'
import {
  type SegmentFamily,
  isolateTornTail,
  maxSeq,
  recoverSegments,
  sealActiveFile,
} from '../store/segments.js'
import type { ResolvedLoggerOptions } from '../base/options.js'
import { MAX_TIMER_MS, type RotationInterval, parseRotationInterval } from '../base/checks.js'

const fsyncP = promisify(fs.fsync)

/** Waiters admitted per completed write (see wakeWaiters). */
const WAKE_PER_WRITE = 1024
/** A failing size rotation is retried after every batch, an interval one at every boundary; their warnings at most this often. */
const ROTATION_WARNING_EVERY_MS = 60_000
/** Rewrites of one batch into a new active file before giving up (the file keeps being taken). */
const MAX_REWRITES = 5

export type WriterConfig = Pick<ResolvedLoggerOptions, 'durability' | 'rotateSize' | 'rotateInterval' | 'mode' | 'dirMode' | 'maxBufferedBytes'>

export interface WriterHooks {
  /** A segment was sealed (size/interval rotation, seal()). */
  onSealed(sealedPath: string): void
  onWarning(message: string, err?: unknown): void
  onDebug(message: string): void
  /** Re-establish the writer lock (re-create it when deleted); throws DLQ_LOCK_LOST when another live process holds it. */
  ensureOwnership(): Promise<void>
}

interface Batch {
  promise: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

function newBatch(): Batch {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A batch may fail with nobody awaiting one of its callers; each caller's own await still sees it.
  promise.catch(() => {})
  return { promise, resolve, reject }
}

export class SegmentWriter {
  readonly fam: SegmentFamily
  private readonly cfg: WriterConfig
  private readonly hooks: WriterHooks

  /** Records accepted and not yet written. Callers encode into it directly. */
  sink = new ByteSink()
  private spare = new ByteSink()
  private batch: Batch | undefined

  private fd: number | undefined
  /** Identity of the file behind `fd`, compared with what the active path leads to. */
  private fdDev = 0
  private fdIno = 0
  /** Set once the logger lost its lock: every later batch is rejected with it. */
  private fatal: DeadLetterError | undefined
  private readonly rotationWarnings = new WarningLimiter(ROTATION_WARNING_EVERY_MS)
  private readonly intervalWarnings = new WarningLimiter(ROTATION_WARNING_EVERY_MS)
  /** Bytes in the active file; a failed write is truncated back to this. */
  private size = 0
  /** fsync mode: the active file's name is not known to be durable yet (see writeBuffer). */
  private dirSyncDue = false
  private seq = 0

  private readonly interval: RotationInterval | undefined
  private intervalTimer: NodeJS.Timeout | undefined

  private chain: Promise<void> = Promise.resolve()
  private writeQueued = false
  private waiters: Array<() => void> = []
  private closed = false
  private finished = false

  /** Sealed-but-uncompressed segments found at open; the logger compresses them when configured. */
  pendingCompress: string[] = []

  constructor(fam: SegmentFamily, cfg: WriterConfig, hooks: WriterHooks) {
    this.fam = fam
    this.cfg = cfg
    this.hooks = hooks
    this.interval = cfg.rotateInterval === undefined ? undefined : parseRotationInterval(cfg.rotateInterval)
  }

  async open(): Promise<void> {
    const { fam } = this
    try {
      fs.mkdirSync(fam.dir, { recursive: true, mode: this.cfg.dirMode })
    } catch (err) {
      throw ioError(`create directory ${fam.dir}`, err)
    }
    const rec = await recoverSegments(fam)
    for (const n of rec.removedTmp) this.hooks.onWarning(`removed partial compressed file ${n} left by a crash`)
    for (const n of rec.removedDuplicates) this.hooks.onWarning(`removed ${n}: its compressed copy is complete`)
    this.pendingCompress = rec.uncompressed
    this.seq = await maxSeq(fam, 'writer')
    if (await isolateTornTail(fam.active)) {
      this.hooks.onWarning(`isolated a torn last line in ${fam.active} (left by a crash); replay will quarantine it`)
    }
    this.openActive()
    this.scheduleInterval()
  }

  // ------------------------------------------------------------------ hot path

  /** True when callers must wait for room (buffer at its limit, or others already waiting). */
  get full(): boolean {
    return this.sink.len >= this.cfg.maxBufferedBytes || this.waiters.length > 0
  }

  /** Resolves when there is room in the buffer again (FIFO). */
  waitForRoom(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve)
      this.queueWrite()
    })
  }

  /** Called after a record was encoded into `sink`; returns its batch's promise. */
  commit(): Promise<void> {
    let b = this.batch
    if (b === undefined) b = this.batch = newBatch()
    if (!this.writeQueued) this.queueWrite()
    return b.promise
  }

  /** Resolves when everything committed before the call is written (and synced in fsync mode). */
  flush(): Promise<void> {
    if (this.sink.len > 0) this.queueWrite()
    return this.chain
  }

  /** Size of the active segment including what is buffered. */
  get activeSize(): number {
    return this.size + this.sink.len
  }

  private queueWrite(): void {
    if (this.writeQueued) return
    this.writeQueued = true
    this.chain = this.chain.then(this.writeOnce)
  }

  /** Never rejects (the chain would stop for good): every failure settles the batch instead. */
  private readonly writeOnce = async (): Promise<void> => {
    this.writeQueued = false
    const full = this.sink
    const batch = this.batch
    this.batch = undefined
    if (full.len === 0) {
      batch?.resolve()
      this.wakeWaiters()
      return
    }
    this.sink = this.spare
    this.spare = full
    try {
      await this.writeBuffer(full.view())
      batch?.resolve()
    } catch (err) {
      batch?.reject(ioError(`write ${this.fam.active}`, err))
    } finally {
      full.reset()
      this.wakeWaiters()
    }
    if (this.cfg.rotateSize > 0 && this.size >= this.cfg.rotateSize && this.fatal === undefined) {
      // Retried after every batch while it fails: one warning, then at most one a minute.
      await this.sealNow().then(
        () => this.warn(this.rotationWarnings.flush(`size rotation of ${this.fam.active} works again`)),
        (err) => this.warn(this.rotationWarnings.take(`size rotation of ${this.fam.active} failed; retrying after each write`), err),
      )
    }
  }

  /** A WarningLimiter's text, unless it held this one back. */
  private warn(text: string | undefined, err?: unknown): void {
    if (text !== undefined) this.hooks.onWarning(text, err)
  }

  /** The logger lost its lock: reject everything from now on with `err`. */
  fail(err: DeadLetterError): void {
    this.fatal ??= err
  }

  private wakeWaiters(): void {
    // Woken callers encode later (in their own microtasks), so the buffer cannot tell us how
    // many fit: admit a bounded number per completed write to keep the buffer near its limit.
    // One splice per write: shift() per waiter is O(queue length) each, which made a flood of
    // 20k queued calls spend seconds here.
    if (this.waiters.length > 0 && this.sink.len < this.cfg.maxBufferedBytes) {
      for (const wake of this.waiters.splice(0, WAKE_PER_WRITE)) wake()
    }
    if (this.waiters.length > 0) this.queueWrite()
  }

  // ------------------------------------------------------------------ I/O

  private async writeBuffer(buf: Buffer): Promise<void> {
    if (this.fatal) throw this.fatal
    // Undefined after a seal that could not reopen the active file: try again now.
    if (this.fd === undefined) await this.reopenActive()
    this.writeAll(buf)
    // No await since the write: nothing in this process can have renamed the file meanwhile.
    // When this throws (the lock was lost) the rejected batch may still be in a file another
    // writer now appends to as well: it stays there (a possible duplicate), never cut out.
    if (!this.ownsActive()) await this.reassertOwnership(buf)
    if (this.cfg.durability === 'fsync') {
      const fd = this.fd!
      const start = this.size - buf.length
      try {
        await fsyncP(fd)
        // The file's name is only durable once its directory is synced (fsync(2)): without
        // this, a power cut could keep the records and lose the file. Once per active file,
        // before its first acknowledgement.
        if (this.dirSyncDue) {
          await fsyncDir(this.fam.dir)
          this.dirSyncDue = false
        }
      } catch (err) {
        // The batch is rejected, so its records must not stay behind to be replayed (a caller
        // that logs them again would get duplicates). Best effort: the disk is failing.
        this.truncateTo(start)
        throw ioError(`fsync ${this.fam.active}`, err)
      }
    }
  }

  /** One whole batch into the active file, or (on a short write / error) none of it. */
  private writeAll(buf: Buffer): void {
    const fd = this.fd!
    const before = this.size
    let off = 0
    try {
      while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off)
    } catch (err) {
      // A partial batch (typically ENOSPC after a short write) must not stay behind as a torn
      // record: cut the file back to where this batch began.
      if (off > 0) {
        try {
          fs.ftruncateSync(fd, before)
        } catch (truncErr) {
          this.hooks.onWarning(`could not remove a partial batch from ${this.fam.active}`, truncErr)
        }
      }
      throw ioError(`write ${this.fam.active}`, err)
    }
    this.size = before + buf.length
  }

  private truncateTo(size: number): void {
    try {
      fs.ftruncateSync(this.fd!, size)
      this.size = size
    } catch {}
  }

  /** Does the active path still lead to the file we write through? */
  private ownsActive(): boolean {
    const st = fs.lstatSync(this.fam.active, { throwIfNoEntry: false })
    return st !== undefined && st.ino === this.fdIno && st.dev === this.fdDev
  }

  /**
   * The active path no longer leads to our file: someone who judged the log orphaned renamed
   * it (typically because our lock file was deleted), or replaced it. Re-establish the lock
   * first (the logger throws DLQ_LOCK_LOST when a live process holds it now), so no further
   * sealer takes the file; then write the batch again into a new active file.
   */
  private async reassertOwnership(buf: Buffer): Promise<void> {
    for (let round = 0; ; round++) {
      await this.hooks.ensureOwnership()
      if (this.ownsActive()) return
      if (round >= MAX_REWRITES) {
        throw new DeadLetterError('DLQ_LOCK_LOST', `dlq: ${this.fam.active} keeps being renamed or replaced by another process; the batch was not acknowledged`)
      }
      this.hooks.onWarning(
        `${this.fam.active} was renamed, removed or replaced by another process while this writer owned it; writing the last batch again into a new active file (a reader may see it twice)`,
      )
      await this.reopenActive()
      this.writeAll(buf)
    }
  }

  private openActive(): void {
    const { fam, cfg } = this
    let fd: number
    try {
      fd = fs.openSync(fam.active, APPEND_FLAGS, cfg.mode)
    } catch (err) {
      throw ioError(`open ${fam.active}`, err)
    }
    const st = fs.fstatSync(fd)
    if (!st.isFile()) {
      fs.closeSync(fd)
      throw new DeadLetterError('DLQ_UNSAFE_PATH', `dlq: ${fam.active} is not a regular file`)
    }
    this.fd = fd
    this.fdDev = st.dev
    this.fdIno = st.ino
    this.size = st.size
    this.dirSyncDue = true
  }

  private closeActive(): void {
    if (this.fd === undefined) return
    const fd = this.fd
    this.fd = undefined
    try {
      fs.closeSync(fd)
    } catch {}
  }

  /** After the active file was renamed: open the new one (its first batch syncs the directory). */
  private async reopenActive(): Promise<void> {
    this.closeActive()
    this.openActive()
  }

  /** Seal the active file by renaming it; a no-op when it is empty. Runs inside the chain. */
  private async sealNow(): Promise<string | null> {
    // After the lock was lost the active file may be another writer's: never rename it.
    if (this.fatal) throw this.fatal
    if (this.fd === undefined) await this.reopenActive()
    if (this.size === 0) return null
    this.closeActive()
    let sealed: string | null
    try {
      sealed = await sealActiveFile(this.fam, async () => {
        // A replayer holding the writer lock while no writer was alive may have taken names.
        this.seq = Math.max(this.seq, await maxSeq(this.fam, 'writer')) + 1
        return this.seq
      })
    } finally {
      this.openActive()
    }
    if (sealed) this.hooks.onSealed(sealed)
    return sealed
  }

  // ------------------------------------------------------------------ interval rotation

  /** Arm the timer for the next clock boundary (rotateInterval), when configured. */
  private scheduleInterval(): void {
    if (this.interval === undefined || this.closed) return
    const at = nextBoundary(this.interval, Date.now())
    const arm = () => {
      const wait = at - Date.now()
      if (wait > 0) {
        // setTimeout runs on the monotonic clock, the boundary is wall-clock time: check again.
        this.intervalTimer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS)) // a boundary further away is reached in several steps
        this.intervalTimer.unref()
      } else {
        this.intervalTimer = undefined
        this.sealAtBoundary()
      }
    }
    arm()
  }

  private sealAtBoundary(): void {
    if (this.closed || this.fatal) return
    if (this.sink.len > 0) this.queueWrite()
    this.chain = this.chain
      .then(() => this.sealNow())
      .then(
        (sealed) => {
          if (sealed === null) this.hooks.onDebug(`interval boundary: ${this.fam.active} is empty, nothing to seal`)
          this.warn(this.intervalWarnings.flush(`interval rotation of ${this.fam.active} works again`))
        },
        (err) => this.warn(this.intervalWarnings.take(`interval rotation of ${this.fam.active} failed; retrying at the next boundary`), err),
      )
      .then(() => this.scheduleInterval())
  }

  // ------------------------------------------------------------------ sealing & closing

  /** Seal the active segment now; resolves to its new path, or null when it was empty. */
  seal(): Promise<string | null> {
    if (this.closed) return Promise.resolve(null)
    if (this.sink.len > 0) this.queueWrite()
    const op = this.chain.then(() => this.sealNow())
    this.chain = op.then(() => {}).catch(() => {})
    return op
  }

  async close(): Promise<void> {
    if (this.closed) return this.chain
    this.closed = true
    clearTimeout(this.intervalTimer)
    // Waiters admitted here encode in their own microtasks; loop until none is left behind.
    while (this.waiters.length > 0 || this.sink.len > 0) {
      this.queueWrite()
      await this.chain
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    await this.chain
    this.finished = true
    this.closeActive()
    this.warn(this.rotationWarnings.flush(`size rotation of ${this.fam.active} was still failing at close`))
    this.warn(this.intervalWarnings.flush(`interval rotation of ${this.fam.active} was still failing at close`))
  }

  /** True once close() has written everything and released the file. */
  get isClosed(): boolean {
    return this.finished
  }
}

/**
 * The first clock boundary of `iv` after `now` (ms): seconds and minutes count from the epoch;
 * hours, days and months follow local time (midnight, the first of the month), as
 * rotating-file-stream, which drove interval rotation before, placed them.
 */
export function nextBoundary(iv: RotationInterval, now: number): number {
  if (iv.unit === 's' || iv.unit === 'm') {
    const period = iv.num * (iv.unit === 's' ? 1000 : 60_000)
    return Math.floor(now / period) * period + period
  }
  const d = new Date(now)
  const y = d.getFullYear()
  const mo = d.getMonth()
  const day = d.getDate()
  const next =
    iv.unit === 'h'
      ? new Date(y, mo, day, Math.floor(d.getHours() / iv.num) * iv.num + iv.num).getTime()
      : iv.unit === 'd'
        ? new Date(y, mo, day + iv.num).getTime()
        : new Date(y, mo + iv.num, 1).getTime()
  if (!Number.isFinite(next)) return Infinity // past the last date there is: never
  // A daylight-saving jump can put the computed hour at or before now; never spin on it.
  return next > now ? next : now + 1000
}
