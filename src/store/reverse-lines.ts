/**
 * Line reader that starts at the end of a plain segment and walks towards its start: the lines
 * come last to first. Newest-first listings need it to cost what they show instead of the size
 * of the log: a page of the 50 latest entries reads the file's last chunk or two, never the
 * gigabytes before them.
 *
 * It splits lines exactly as the forward reader (src/format/lines.ts) does, so the two directions
 * report the same offsets: a region that starts at `startOffset` (a checkpoint) must start
 * right after a newline, the bytes after the last newline are one torn line, and a line longer
 * than `maxRecordSize` is reported by offset and length only. That one is never held: its
 * bytes are dropped as they are read while the scan goes on back to its start. Memory is one
 * reused chunk buffer plus, for a line longer than the chunk but within the limit, that line.
 *
 * Plain files only: a gzip stream can only be decoded from its start.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { O_NOFOLLOW } from '../base/fs-safe.js'
import { Slicer, yieldToLoop } from '../base/time-slice.js'

export interface BackwardLineHandler {
  /**
   * A line, `buf[start..end)` without its newline, starting at byte `offset`; `torn` is true
   * for the bytes after the file's last newline. `buf` is reused: copy what you keep. Return a
   * promise to pause reading until it settles.
   */
  line(buf: Buffer, start: number, end: number, offset: number, torn: boolean): void | Promise<void>
  /** A line over the size limit, `length` bytes (without its newline) from `offset`. */
  oversized(offset: number, length: number): void | Promise<void>
}

export interface BackwardReadResult {
  /** True when reading stopped because `shouldStop()` said so. */
  stopped: boolean
  /** Set when a read failed (lines after the failure point were delivered). */
  error?: Error
  /** As in readLines: `startOffset` is not where a line starts, or lies past the end; nothing was delivered. */
  badStart?: 'not-boundary' | 'past-end'
  /** Positional reads made and bytes they returned: what the listing cost in I/O. */
  reads: number
  bytesRead: number
}

/** Big enough that a page of a few hundred typical entries is one read, small enough to stay cheap per file. */
const BACKWARD_CHUNK = 256 * 1024

/**
 * The lines of the plain file `file` from its current end down to `startOffset`, last first.
 * Opening errors (ENOENT: the file went away) reject; read errors end the read with `error`.
 */
export async function readLinesBackward(
  file: string,
  startOffset: number,
  maxRecordSize: number,
  handler: BackwardLineHandler,
  shouldStop: () => boolean,
  chunkSize = BACKWARD_CHUNK,
): Promise<BackwardReadResult> {
  const fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
  const res: BackwardReadResult = { stopped: false, reads: 0, bytesRead: 0 }
  try {
    await new BackwardLines(fh, startOffset, maxRecordSize, handler, shouldStop, chunkSize, res).run()
  } catch (err) {
    // A failed read is reported, as the forward reader does; a handler's own error is not ours.
    if (!(err instanceof ReadFailure)) throw err
    res.error = err.error
  } finally {
    await fh.close().catch(() => {})
  }
  return res
}

class ReadFailure {
  constructor(readonly error: Error) {}
}

class BackwardLines {
  private buf!: Buffer
  /** File offset of the lowest byte read so far. */
  private lo = 0
  /**
   * The current line (the one whose start is not found yet) ends at `lineEnd` (its newline, or
   * the end of the file). Its bytes from `lo` on: `carry` bytes at the end of `buf`, then
   * `pieces` (earlier chunks it filled whole, in file order) — or nothing once it is `over`
   * the limit.
   */
  private lineEnd = 0
  private carry = 0
  private pieces: Buffer[] = []
  private over = false
  /** The current line is the one after the file's last newline. */
  private torn = true
  private readonly slicer = new Slicer()

  constructor(
    private readonly fh: fsp.FileHandle,
    private readonly startOffset: number,
    private readonly max: number,
    private readonly handler: BackwardLineHandler,
    private readonly shouldStop: () => boolean,
    private readonly chunkSize: number,
    private readonly res: BackwardReadResult,
  ) {}

  async run(): Promise<void> {
    let end: number
    try {
      end = (await this.fh.stat()).size
    } catch (err) {
      throw new ReadFailure(err as Error)
    }
    const start = this.startOffset
    if (start > end) {
      this.res.badStart = 'past-end'
      return
    }
    if (start === end) return
    if (start > 0) {
      // A checkpoint must sit right after a newline, as the forward reader checks.
      const one = Buffer.alloc(1)
      await this.readAt(one, 0, 1, start - 1)
      if (one[0] !== 0x0a) {
        this.res.badStart = 'not-boundary'
        return
      }
    }
    this.buf = Buffer.allocUnsafe(Math.max(1, Math.min(this.chunkSize, end - start)))
    this.lo = end
    this.lineEnd = end
    while (this.lo > start) {
      if (this.shouldStop()) {
        this.res.stopped = true
        return
      }
      if (!(await this.chunk())) return
    }
  }

  /** Reads the chunk below `lo` and delivers the lines it completes; false once stopped. */
  private async chunk(): Promise<boolean> {
    const buf = this.buf
    if (this.carry === buf.length) {
      // The current line fills the buffer: set its bytes aside (within the limit, so it is
      // read whole) and read on below it.
      this.pieces.unshift(Buffer.from(buf))
      this.carry = 0
    }
    const n = Math.min(buf.length - this.carry, this.lo - this.startOffset)
    const at = buf.length - this.carry - n
    await this.readAt(buf, at, n, this.lo - n)
    this.lo -= n
    // view[i] is file byte lo + i; the current line's bytes in it end at view.length.
    const view = buf.subarray(at)
    let e = view.length
    for (;;) {
      const nl = e > 0 ? view.lastIndexOf(0x0a, e - 1) : -1
      if (nl === -1) break
      if (this.shouldStop()) {
        this.res.stopped = true
        return false
      }
      const r = this.deliver(view, nl + 1, e, this.lo + nl + 1)
      if (r) await r
      this.lineEnd = this.lo + nl
      this.torn = false
      const bytes = e - nl
      e = nl
      if (this.slicer.spent(bytes)) await yieldToLoop()
    }
    if (this.lo === this.startOffset) {
      // The region's first line starts where the region does.
      if (this.shouldStop()) {
        this.res.stopped = true
        return false
      }
      const r = this.deliver(view, 0, e, this.lo)
      if (r) await r
      return true
    }
    // The start of the current line is further back: keep what we have of it at the end of
    // the buffer, unless it is already too long to be read whole.
    if (!this.over && this.lineEnd - this.lo > this.max) {
      this.over = true
      this.pieces = []
    }
    this.carry = this.over ? 0 : e
    if (this.carry > 0) buf.copyWithin(buf.length - e, at, at + e)
    return true
  }

  /** The current line, whose start is at `view[s]` (file offset `offset`) and in-buffer end at `view[e]`. */
  private deliver(view: Buffer, s: number, e: number, offset: number): void | Promise<void> {
    const length = this.lineEnd - offset
    const torn = this.torn
    const pieces = this.pieces
    this.pieces = []
    const over = this.over
    this.over = false
    // A file ending in a newline has no torn line.
    if (torn && length === 0) return
    if (over || length > this.max) return this.handler.oversized(offset, length)
    if (pieces.length === 0) return this.handler.line(view, s, e, offset, torn)
    const whole = Buffer.concat([view.subarray(s, e), ...pieces], length)
    return this.handler.line(whole, 0, whole.length, offset, torn)
  }

  private async readAt(buf: Buffer, at: number, n: number, position: number): Promise<void> {
    let done = 0
    while (done < n) {
      let got: number
      try {
        got = (await this.fh.read(buf, at + done, n - done, position + done)).bytesRead
      } catch (err) {
        throw new ReadFailure(err as Error)
      }
      if (got === 0) throw new ReadFailure(new Error(`file shrank to ${position + done} bytes while being read`))
      done += got
    }
    this.res.reads++
    this.res.bytesRead += n
  }
}
