/**
 * Streaming line reader for segments (plain or gzip). Memory stays bounded by the read
 * chunk plus one record, whatever the segment size: a line longer than `maxRecordSize` is
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
// Small on purpose: each chunk is a fresh Buffer, and spent ones pile up outside the V8 heap
// until a GC. Replaying 1 GiB (bench/, peak external memory): 1 MiB chunks ~70 MB, 256 KiB
// ~16 MB, 64 KiB ~6 MB, at the same speed.
const CHUNK = 64 * 1024
const SALVAGE_CHUNK = 16 * 1024

/**
 * Every line of `file` from `startOffset` on, to `handler`, in order. Plain files are read
 * positionally into one reused buffer (see readPlain); gzip files, and a plain file from a
 * line longer than that buffer on, go through the stream reader.
 */
export function readLines(
  file: string,
  gz: boolean,
  startOffset: number,
  maxRecordSize: number,
  handler: LineHandler,
  shouldStop: () => boolean,
): Promise<ReadResult> {
  if (gz) return readStream(file, true, startOffset, maxRecordSize, handler, shouldStop)
  return readPlain(file, startOffset, maxRecordSize, handler, shouldStop)
}

const PLAIN_BUFFER = 1024 * 1024

/**
 * One buffer, filled by positional reads; the lines of each fill go to the handler in a
 * synchronous loop, which awaits when the handler returns a promise and gives the event loop
 * a turn after each time slice (time-slice.ts). A partial line at the end of a fill moves to
 * the front before the next read. Spent memory stays at one buffer: no chunk objects for the
 * GC, no stream machinery per chunk.
 */
async function readPlain(
  file: string,
  startOffset: number,
  maxRecordSize: number,
  handler: LineHandler,
  shouldStop: () => boolean,
): Promise<ReadResult> {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | O_NOFOLLOW)
  let open = true
  const buf = Buffer.allocUnsafe(PLAIN_BUFFER)
  // A resumed read starts one byte early so that byte can be checked to be a newline.
  let base = Math.max(0, startOffset - 1)
  let filled = 0
  let i = 0
  const slicer = new Slicer()
  try {
    for (;;) {
      if (i > 0) {
        buf.copy(buf, 0, i, filled)
        filled -= i
        base += i
        i = 0
      }
      if (filled === buf.length) {
        // A line longer than the buffer: the stream reader takes it (and the rest) from here.
        open = false
        fs.closeSync(fd)
        return await readStream(file, false, base, maxRecordSize, handler, shouldStop)
      }
      let n: number
      try {
        n = fs.readSync(fd, buf, filled, buf.length - filled, base + filled)
      } catch (err) {
        return { end: base + i, error: err as Error, stopped: false }
      }
      if (base + filled < startOffset && n === 0) return { end: startOffset, stopped: false, badStart: 'past-end' }
      if (n === 0) break
      filled += n
      if (base < startOffset) {
        if (buf[0] !== 0x0a) return filled > 1 ? { end: startOffset, stopped: false, badStart: 'not-boundary' } : { end: startOffset, stopped: false }
        i = 1
      }
      const view = buf.subarray(0, filled)
      for (;;) {
        if (shouldStop()) return { end: base + i, stopped: true }
        const nl = view.indexOf(0x0a, i)
        if (nl === -1) break
        const offset = base + i
        const r = deliver(view, i, nl, offset, base + nl + 1, false)
        const bytes = nl + 1 - i
        i = nl + 1
        if (r) await r
        if (slicer.spent(bytes)) await yieldToLoop()
      }
    }
    // Bytes after the last newline: a torn record.
    if (filled > i) {
      const r = deliver(buf, i, filled, base + i, base + filled, true)
      if (r) await r
      i = filled
    }
    return { end: base + i, stopped: false }
  } finally {
    if (open) fs.closeSync(fd)
  }

  function deliver(view: Buffer, s: number, e: number, offset: number, next: number, torn: boolean): void | Promise<void> {
    if (e - s <= maxRecordSize) return handler.line(view, s, e, offset, next, torn)
    handler.oversizedBytes?.(offset, view.subarray(s, e))
    return handler.oversized(Buffer.from(view.subarray(s, Math.min(e, s + HEAD_BYTES))), offset, next, e - s)
  }
}

function readStream(
  file: string,
  gz: boolean,
  startOffset: number,
  maxRecordSize: number,
  handler: LineHandler,
  shouldStop: () => boolean,
  salvage = false,
): Promise<ReadResult> {
  return new StreamLines(file, gz, startOffset, maxRecordSize, handler, shouldStop, salvage).run()
}

/**
 * The streaming reader (gzip, and plain lines longer than the positional buffer). A line may
 * span chunks: its pieces are kept until its newline, or, once it is over the limit, only its
 * head, every byte going past the handler instead.
 */
class StreamLines {
  /** Bytes of the uncompressed stream seen so far (absolute offset of the next byte). */
  private pos: number
  /** The current line's start offset and its bytes so far (across chunks). */
  private lineStart: number
  private parts: Buffer[] = []
  private partLen = 0
  private oversized = false
  private oversizeHead: Buffer | undefined
  private stopped = false
  /** The byte before startOffset was not a newline: fine only if no data follows. */
  private midLine = false
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
    // A resumed plain read starts one byte early so the byte before `startOffset` can be
    // checked to be a newline (gzip streams see it while skipping the prefix anyway).
    this.pos = gz ? 0 : Math.max(0, startOffset - 1)
    this.lineStart = startOffset
  }

  async run(): Promise<ReadResult> {
    const fh = await fsp.open(this.file, fs.constants.O_RDONLY | O_NOFOLLOW)
    const raw = fh.createReadStream({ start: this.pos, highWaterMark: this.salvage ? SALVAGE_CHUNK : CHUNK })
    let stream: NodeJS.ReadableStream & { destroy(): void } = raw
    if (this.gz) {
      const gunzip = zlib.createGunzip({
        chunkSize: 256 * 1024,
        // Salvage: a truncated stream just ends, yielding everything decodable.
        ...(this.salvage ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : {}),
      })
      raw.on('error', (err) => gunzip.destroy(err))
      stream = raw.pipe(gunzip)
    }
    let failed: Error | undefined
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const early = await this.chunk(chunk)
        if (early) return early
      }
    } catch (err) {
      failed = err as Error
    } finally {
      stream.destroy()
      raw.destroy()
      await fh.close().catch(() => {})
    }
    return failed !== undefined ? this.afterFailure(failed) : this.atEnd()
  }

  /** The lines completed by one chunk; a result when reading ends here. */
  private async chunk(chunk0: Buffer): Promise<ReadResult | undefined> {
    let chunk = chunk0
    if (this.pos < this.startOffset) {
      // Discard the already-checkpointed prefix (gzip), or the one byte read early (plain).
      const skip = Math.min(chunk.length, this.startOffset - this.pos)
      this.pos += skip
      // The byte before startOffset was not a newline: fine only if no data follows (a
      // checkpoint at the end of a torn last line).
      if (this.pos === this.startOffset && chunk[skip - 1] !== 0x0a) this.midLine = true
      if (skip === chunk.length) return undefined
      chunk = chunk.subarray(skip)
    }
    if (this.midLine) return { end: this.startOffset, stopped: this.stopped, badStart: 'not-boundary' }
    const base = this.pos
    this.pos += chunk.length
    let i = 0
    while (i < chunk.length) {
      if (this.shouldStop()) {
        this.stopped = true
        return { end: this.lineStart, stopped: true }
      }
      const nl = chunk.indexOf(0x0a, i)
      if (nl === -1) {
        this.appendPart(chunk, i, chunk.length)
        break
      }
      const r = this.lineEnd(chunk, i, nl, base + nl + 1)
      if (r) await r
      this.parts = []
      this.partLen = 0
      this.lineStart = base + nl + 1
      const bytes = nl + 1 - i
      i = nl + 1
      if (this.slicer.spent(bytes)) await yieldToLoop()
    }
    return undefined
  }

  /** The line ending at `chunk[nl]` (its earlier pieces, if any, are in `parts`). */
  private lineEnd(chunk: Buffer, i: number, nl: number, next: number): void | Promise<void> {
    const h = this.handler
    if (this.oversized) {
      h.oversizedBytes?.(this.lineStart, chunk.subarray(i, nl))
      return this.endOversized(next, next - 1 - this.lineStart)
    }
    if (this.partLen === 0) {
      if (nl - i > this.max) {
        h.oversizedBytes?.(this.lineStart, chunk.subarray(i, nl))
        return h.oversized(Buffer.from(chunk.subarray(i, i + HEAD_BYTES)), this.lineStart, next, nl - i)
      }
      return h.line(chunk, i, nl, this.lineStart, next, false)
    }
    this.appendPart(chunk, i, nl)
    if (this.oversized) return this.endOversized(next, next - 1 - this.lineStart)
    const whole = Buffer.concat(this.parts, this.partLen)
    return h.line(whole, 0, whole.length, this.lineStart, next, false)
  }

  private endOversized(next: number, length: number): void | Promise<void> {
    const head = this.oversizeHead!
    this.oversized = false
    this.oversizeHead = undefined
    return this.handler.oversized(head, this.lineStart, next, length)
  }

  private appendPart(chunk: Buffer, from: number, to: number): void {
    const h = this.handler
    if (this.oversized) {
      h.oversizedBytes?.(this.lineStart, chunk.subarray(from, to))
      return
    }
    const len = to - from
    if (this.partLen + len > this.max) {
      // Keep only the head in memory; every byte goes past the handler to be kept elsewhere.
      const head = Buffer.concat([...this.parts, chunk.subarray(from, to)], Math.min(this.partLen + len, HEAD_BYTES))
      this.oversizeHead = Buffer.from(head.subarray(0, Math.min(head.length, HEAD_BYTES)))
      this.oversized = true
      for (const p of this.parts) h.oversizedBytes?.(this.lineStart, p)
      h.oversizedBytes?.(this.lineStart, chunk.subarray(from, to))
      this.parts = []
      this.partLen = 0
      return
    }
    // Copy: the stream may reuse the chunk's memory.
    this.parts.push(Buffer.from(chunk.subarray(from, to)))
    this.partLen += len
  }

  private async afterFailure(failed: Error): Promise<ReadResult> {
    // zlib drops the output of the input chunk in which it meets damage (with a slow
    // handler that chunk can be the whole rest of a truncated file), so re-read from the
    // last delivered line with a forgiving decoder and small chunks: intact records before
    // the damage are delivered, and the error is still reported for the rest.
    const { gz, salvage, stopped } = this
    if (gz && !salvage && !stopped && !this.shouldStop() && (failed as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      const r = await readStream(this.file, gz, this.lineStart, this.max, this.handler, this.shouldStop, true)
      return { end: r.end, error: r.error ?? failed, stopped: r.stopped }
    }
    return { end: this.lineStart, error: failed, stopped }
  }

  private async atEnd(): Promise<ReadResult> {
    if (this.pos < this.startOffset) return { end: this.startOffset, stopped: this.stopped, badStart: 'past-end' }
    // The bytes after the last complete line of a damaged stream are the unreadable rest.
    if (this.salvage) return { end: this.lineStart, stopped: this.stopped }
    // Bytes after the last newline: a torn record.
    if (this.oversized) {
      const r = this.endOversized(this.pos, this.pos - this.lineStart)
      if (r) await r
      this.lineStart = this.pos
    } else if (this.partLen > 0) {
      const whole = Buffer.concat(this.parts, this.partLen)
      const r = this.handler.line(whole, 0, whole.length, this.lineStart, this.pos, true)
      if (r) await r
      this.lineStart = this.pos
    }
    return { end: this.lineStart, stopped: this.stopped }
  }
}
