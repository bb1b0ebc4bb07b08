/**
 * Streaming line reader for segments (plain or gzip). Memory stays bounded by the read
 * buffer plus one record, whatever the segment size: a line longer than `maxRecordSize` is
 * reported as oversized: its bytes stream past the handler (which keeps them elsewhere) and
 * are never held in memory, so one huge record never blocks the lines after it (the Go
 * original's 64 KiB scanner limit did exactly that).
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import zlib from 'node:zlib'
import { O_NOFOLLOW } from '../base/fs-safe.js'
import { Slicer, yieldToLoop } from '../base/time-slice.js'

export interface LineHandler {
  /**
   * A complete line, `buf[start..end)` without its newline, starting at byte `offset` of the
   * uncompressed stream; the next line starts at `next`. `torn` is true for bytes after the
   * last newline at end of file. Return a promise to pause reading until it settles.
   */
  line(buf: Buffer, start: number, end: number, offset: number, next: number, torn: boolean): void | Promise<void>
  /**
   * The bytes of an over-limit line as they stream past, in order, in pieces; called
   * synchronously (copy what you keep). Then `oversized()` is called once the line ends.
   */
  oversizedBytes?(offset: number, piece: Buffer): void
  /** A line over the size limit: `head` is its first bytes, `length` its full length. */
  oversized(head: Buffer, offset: number, next: number, length: number): void | Promise<void>
}

export interface ReadResult {
  /** Offset after the last byte delivered. */
  end: number
  /** Set when the stream failed (corrupt or truncated gzip, I/O error) after `end`. */
  error?: Error
  /** True when reading stopped because `shouldStop()` said so. */
  stopped: boolean
  /**
   * Set (and nothing delivered) when `startOffset` is not where a line starts or lies past the
   * end of the data: a bad checkpoint. Reading from there would cut a record in two.
   */
  badStart?: 'not-boundary' | 'past-end'
}

const HEAD_BYTES = 64 * 1024
// Small on purpose: each compressed chunk is a fresh Buffer, and spent ones pile up outside
// the V8 heap until a GC. Replaying 1 GiB (bench/, peak external memory): 1 MiB chunks ~70 MB,
// 256 KiB ~16 MB, 64 KiB ~6 MB, at the same speed.
const CHUNK = 64 * 1024
const SALVAGE_CHUNK = 16 * 1024
const BUFFER = 1024 * 1024

/**
 * Every line of `file` from `startOffset` on, to `handler`, in order. The bytes go through one
 * reused buffer: a plain file filled by positional reads, a gzip file by copying out what the
 * decoder yields. The lines of each fill go to the handler in a synchronous loop, which awaits
 * when the handler returns a promise and gives the event loop a turn after each time slice
 * (time-slice.ts). A partial line at the end of a fill moves to the front before the next
 * read; one longer than the buffer is kept in pieces until its newline or, once over the
 * limit, only its head, every byte going past the handler instead. Spent memory stays at one
 * buffer: no chunk objects for the GC on plain files, no stream machinery per line.
 */
export function readLines(
  file: string,
  gz: boolean,
  startOffset: number,
  maxRecordSize: number,
  handler: LineHandler,
  shouldStop: () => boolean,
): Promise<ReadResult> {
  return new LineReader(file, gz, startOffset, maxRecordSize, handler, shouldStop, false).run()
}

/** Fills `buf[at..at+len)` with the next bytes of the (uncompressed) stream: how many, 0 at its end. */
type Source = { read(buf: Buffer, at: number, len: number): number | Promise<number>; close(): Promise<void> }

function plainSource(file: string, from: number): Source {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | O_NOFOLLOW)
  let pos = from
  return {
    read(buf, at, len) {
      const n = fs.readSync(fd, buf, at, len, pos)
      pos += n
      return n
    },
    close: async () => fs.closeSync(fd),
  }
}

async function gzSource(file: string, salvage: boolean): Promise<Source> {
  const fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
  const raw = fh.createReadStream({ highWaterMark: salvage ? SALVAGE_CHUNK : CHUNK })
  // Salvage: a truncated stream just ends, yielding everything decodable.
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024, ...(salvage ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : {}) })
  raw.on('error', (err) => gunzip.destroy(err))
  const chunks = (raw.pipe(gunzip) as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  let rest: Buffer = Buffer.alloc(0)
  return {
    async read(buf, at, len) {
      while (rest.length === 0) {
        const next = await chunks.next()
        if (next.done) return 0
        rest = next.value
      }
      const n = rest.copy(buf, at, 0, Math.min(len, rest.length))
      rest = rest.subarray(n)
      return n
    },
    async close() {
      gunzip.destroy()
      raw.destroy()
      await fh.close().catch(() => {})
    },
  }
}

class LineReader {
  private readonly buf = Buffer.allocUnsafe(BUFFER)
  /** Stream offset of buf[0]; bytes in the buffer; the next unread byte in it. */
  private base: number
  private filled = 0
  private i = 0
  /** The current line's start offset; its earlier pieces (a line longer than the buffer), or only its head once it is over the limit. */
  private lineStart: number
  private parts: Buffer[] = []
  private partLen = 0
  private oversizeHead: Buffer | undefined
  private readonly slicer = new Slicer()

  constructor(
    private readonly file: string,
    private readonly gz: boolean,
    private readonly startOffset: number,
    private readonly max: number,
    private readonly handler: LineHandler,
    private readonly shouldStop: () => boolean,
    private readonly salvage: boolean,
  ) {
    // A resumed read starts one byte early so that byte can be checked to be a newline (a
    // gzip stream is read from its start, the prefix dropped).
    this.base = gz ? 0 : Math.max(0, startOffset - 1)
    this.lineStart = startOffset
  }

  async run(): Promise<ReadResult> {
    const src = this.gz ? await gzSource(this.file, this.salvage) : plainSource(this.file, this.base)
    try {
      return await this.loop(src)
    } finally {
      await src.close().catch(() => {})
    }
  }

  private async loop(src: Source): Promise<ReadResult> {
    const { buf, startOffset } = this
    let checked = startOffset === 0
    for (;;) {
      if (this.i > 0) {
        buf.copy(buf, 0, this.i, this.filled)
        this.filled -= this.i
        this.base += this.i
        this.i = 0
      }
      if (this.filled === buf.length) this.spill()
      let n: number
      try {
        // A read error (corrupt gzip, I/O) ends the read with `error`; a handler's own error rejects.
        const got = src.read(buf, this.filled, buf.length - this.filled)
        n = typeof got === 'number' ? got : await got
      } catch (err) {
        return this.afterFailure(err as Error)
      }
      if (n === 0) break
      this.filled += n
      if (!checked) {
        // Drop the prefix before the byte preceding startOffset, then check that byte.
        const at = startOffset - 1 - this.base
        if (at >= this.filled) {
          this.i = this.filled
          continue
        }
        checked = true
        if (buf[at] !== 0x0a) return this.filled > at + 1 ? { end: startOffset, stopped: false, badStart: 'not-boundary' } : this.tail(true)
        this.i = at + 1
      }
      const view = buf.subarray(0, this.filled)
      for (;;) {
        if (this.shouldStop()) return { end: this.lineStart, stopped: true }
        const nl = view.indexOf(0x0a, this.i)
        if (nl === -1) break
        const r = this.lineEnd(view, nl)
        const bytes = nl + 1 - this.i
        this.i = nl + 1
        this.lineStart = this.base + this.i
        if (r) await r
        if (this.slicer.spent(bytes)) await yieldToLoop()
      }
    }
    if (!checked) return this.base + this.filled < startOffset ? { end: startOffset, stopped: false, badStart: 'past-end' } : this.tail(true)
    return this.tail(false)
  }

  /** The line ending at `view[nl]`, with its earlier pieces, if any. */
  private lineEnd(view: Buffer, nl: number): void | Promise<void> {
    const next = this.base + nl + 1
    if (this.partLen === 0 && this.oversizeHead === undefined) return this.whole(view, this.i, nl, next, false)
    this.append(view.subarray(this.i, nl))
    return this.endPieces(next, false)
  }

  /** A line whole in `buf[i..end)`: to line(), or, over the limit, past the handler to oversized(). */
  private whole(buf: Buffer, i: number, end: number, next: number, torn: boolean): void | Promise<void> {
    const h = this.handler
    if (end - i <= this.max) return h.line(buf, i, end, this.lineStart, next, torn)
    h.oversizedBytes?.(this.lineStart, buf.subarray(i, end))
    return h.oversized(Buffer.from(buf.subarray(i, Math.min(end, i + HEAD_BYTES))), this.lineStart, next, end - i)
  }

  /** The line fills the buffer: its bytes go to the pieces and the buffer is free again. */
  private spill(): void {
    this.append(this.buf.subarray(0, this.filled))
    this.base += this.filled
    this.filled = 0
  }

  private append(bytes: Buffer): void {
    const h = this.handler
    if (this.oversizeHead === undefined && this.partLen + bytes.length > this.max) {
      // Keep only the head in memory; every byte goes past the handler to be kept elsewhere.
      const head = Buffer.concat([...this.parts, bytes], Math.min(this.partLen + bytes.length, HEAD_BYTES))
      this.oversizeHead = Buffer.from(head.subarray(0, Math.min(head.length, HEAD_BYTES)))
      for (const p of this.parts) h.oversizedBytes?.(this.lineStart, p)
      this.parts = []
    }
    if (this.oversizeHead !== undefined) h.oversizedBytes?.(this.lineStart, bytes)
    // Copy: the buffer is reused.
    else this.parts.push(Buffer.from(bytes))
    this.partLen += bytes.length
  }

  /** The line held in pieces ends at `next` (its newline, or the end of the data when `torn`). */
  private endPieces(next: number, torn: boolean): void | Promise<void> {
    const head = this.oversizeHead
    const whole = head ? undefined : Buffer.concat(this.parts, this.partLen)
    const length = this.partLen
    this.parts = []
    this.partLen = 0
    this.oversizeHead = undefined
    if (head) return this.handler.oversized(head, this.lineStart, next, length)
    return this.handler.line(whole!, 0, length, this.lineStart, next, torn)
  }

  /** End of the data: bytes after the last newline are a torn record (the unreadable rest, when salvaging). */
  private async tail(atStart: boolean): Promise<ReadResult> {
    if (this.salvage || atStart) return { end: this.lineStart, stopped: false }
    const end = this.base + this.filled
    if (this.partLen > 0 || this.oversizeHead !== undefined) {
      this.append(this.buf.subarray(this.i, this.filled))
      const r = this.endPieces(end, true)
      if (r) await r
    } else if (this.filled > this.i) {
      const r = this.whole(this.buf, this.i, this.filled, end, true)
      if (r) await r
    }
    return { end, stopped: false }
  }

  private async afterFailure(failed: Error): Promise<ReadResult> {
    // zlib drops the output of the input chunk in which it meets damage (with a slow
    // handler that chunk can be the whole rest of a truncated file), so re-read from the
    // last delivered line with a forgiving decoder and small chunks: intact records before
    // the damage are delivered, and the error is still reported for the rest.
    if (this.gz && !this.salvage && !this.shouldStop() && (failed as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      const r = await new LineReader(this.file, true, this.lineStart, this.max, this.handler, this.shouldStop, true).run()
      return { end: r.end, error: r.error ?? failed, stopped: r.stopped }
    }
    return { end: this.lineStart, error: failed, stopped: false }
  }
}
