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
import { O_NOFOLLOW } from './fs-safe.js'

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
 * synchronous loop, which awaits only when the handler returns a promise. A partial line at
 * the end of a fill moves to the front before the next read. Spent memory stays at one
 * buffer: no chunk objects for the GC, no stream machinery per chunk.
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
        i = nl + 1
        if (r) await r
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

async function readStream(
  file: string,
  gz: boolean,
  startOffset: number,
  maxRecordSize: number,
  handler: LineHandler,
  shouldStop: () => boolean,
  salvage = false,
): Promise<ReadResult> {
  const fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
  let stream: NodeJS.ReadableStream & { destroy(): void }
  // A resumed plain read starts one byte early so the byte before `startOffset` can be
  // checked to be a newline (gzip streams see it while skipping the prefix anyway).
  const readFrom = gz ? 0 : Math.max(0, startOffset - 1)
  const raw = fh.createReadStream({ start: readFrom, highWaterMark: salvage ? SALVAGE_CHUNK : CHUNK })
  if (gz) {
    const gunzip = zlib.createGunzip({
      chunkSize: 256 * 1024,
      // Salvage: a truncated stream just ends, yielding everything decodable.
      ...(salvage ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : {}),
    })
    raw.on('error', (err) => gunzip.destroy(err))
    stream = raw.pipe(gunzip)
  } else {
    stream = raw
  }

  // Bytes of the uncompressed stream seen so far (absolute offset of the next byte).
  let pos = readFrom
  // The byte before startOffset was not a newline: fine only if no data follows (a
  // checkpoint at the end of a torn last line).
  let startMidLine = false
  // The current line's start offset and its bytes so far (across chunks).
  let lineStart = startOffset
  let parts: Buffer[] = []
  let partLen = 0
  let oversized = false
  let oversizeHead: Buffer | undefined
  let stopped = false
  let failed: Error | undefined

  try {
    for await (const chunk0 of stream as AsyncIterable<Buffer>) {
      let chunk = chunk0
      if (pos < startOffset) {
        // Discard the already-checkpointed prefix (gzip), or the one byte read early (plain).
        const skip = Math.min(chunk.length, startOffset - pos)
        pos += skip
        if (pos === startOffset && chunk[skip - 1] !== 0x0a) startMidLine = true
        if (skip === chunk.length) continue
        chunk = chunk.subarray(skip)
      }
      if (startMidLine) return { end: startOffset, stopped, badStart: 'not-boundary' }
      const base = pos
      pos += chunk.length
      let i = 0
      while (i < chunk.length) {
        if (shouldStop()) {
          stopped = true
          return { end: lineStart, stopped }
        }
        const nl = chunk.indexOf(0x0a, i)
        if (nl === -1) {
          appendPart(chunk, i, chunk.length)
          break
        }
        const next = base + nl + 1
        if (oversized) {
          const length = next - 1 - lineStart
          handler.oversizedBytes?.(lineStart, chunk.subarray(i, nl))
          const r = handler.oversized(oversizeHead!, lineStart, next, length)
          if (r) await r
          oversized = false
          oversizeHead = undefined
        } else if (partLen === 0) {
          let r: void | Promise<void>
          if (nl - i > maxRecordSize) {
            handler.oversizedBytes?.(lineStart, chunk.subarray(i, nl))
            r = handler.oversized(Buffer.from(chunk.subarray(i, i + HEAD_BYTES)), lineStart, next, nl - i)
          } else {
            r = handler.line(chunk, i, nl, lineStart, next, false)
          }
          if (r) await r
        } else {
          appendPart(chunk, i, nl)
          if (oversized) {
            const r = handler.oversized(oversizeHead!, lineStart, next, next - 1 - lineStart)
            if (r) await r
            oversized = false
            oversizeHead = undefined
          } else {
            const whole = Buffer.concat(parts, partLen)
            const r = handler.line(whole, 0, whole.length, lineStart, next, false)
            if (r) await r
          }
        }
        parts = []
        partLen = 0
        lineStart = next
        i = nl + 1
      }
    }
  } catch (err) {
    failed = err as Error
  } finally {
    ;(stream as { destroy(): void }).destroy()
    raw.destroy()
    await fh.close().catch(() => {})
  }
  if (failed !== undefined) {
    // zlib drops the output of the input chunk in which it meets damage (with a slow
    // handler that chunk can be the whole rest of a truncated file), so re-read from the
    // last delivered line with a forgiving decoder and small chunks: intact records before
    // the damage are delivered, and the error is still reported for the rest.
    if (gz && !salvage && !stopped && !shouldStop() && (failed as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      const r = await readStream(file, gz, lineStart, maxRecordSize, handler, shouldStop, true)
      return { end: r.end, error: r.error ?? failed, stopped: r.stopped }
    }
    return { end: lineStart, error: failed, stopped }
  }
  if (pos < startOffset) return { end: startOffset, stopped, badStart: 'past-end' }
  // The bytes after the last complete line of a damaged stream are the unreadable rest.
  if (salvage) return { end: lineStart, stopped }
  // Bytes after the last newline: a torn record.
  if (oversized) {
    const r = handler.oversized(oversizeHead!, lineStart, pos, pos - lineStart)
    if (r) await r
    lineStart = pos
  } else if (partLen > 0) {
    const whole = Buffer.concat(parts, partLen)
    const r = handler.line(whole, 0, whole.length, lineStart, pos, true)
    if (r) await r
    lineStart = pos
  }
  return { end: lineStart, stopped }

  function appendPart(chunk: Buffer, from: number, to: number): void {
    if (oversized) {
      handler.oversizedBytes?.(lineStart, chunk.subarray(from, to))
      return
    }
    const len = to - from
    if (partLen + len > maxRecordSize) {
      // Keep only the head in memory; every byte goes past the handler to be kept elsewhere.
      const head = Buffer.concat([...parts, chunk.subarray(from, to)], Math.min(partLen + len, HEAD_BYTES))
      oversizeHead = Buffer.from(head.subarray(0, Math.min(head.length, HEAD_BYTES)))
      oversized = true
      for (const p of parts) handler.oversizedBytes?.(lineStart, p)
      handler.oversizedBytes?.(lineStart, chunk.subarray(from, to))
      parts = []
      partLen = 0
      return
    }
    // Copy: the stream may reuse the chunk's memory.
    parts.push(Buffer.from(chunk.subarray(from, to)))
    partLen += len
  }
}
