/**
 * Read-only, streaming walk over the files of a log (stats, inspect, dry runs). Nothing here
 * writes, renames or locks: it is safe next to a live writer and a running replay. Files can
 * vanish under us (a replay finishing a segment), and the active file can be mid-append.
 * scanFiles reads a list of files forward, or each plain one from its end (newest-first
 * listings), giving the same items in reverse.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { isUtf8 } from 'node:buffer'
import { readCheckpoint } from './checkpoint.js'
import { type Envelope, parseEnvelope } from '../format/envelope.js'
import { readLines } from '../format/lines.js'
import { readLinesBackward } from './reverse-lines.js'
import { type LogPaths, listSegments, statePathOf } from './segments.js'
import type { Kind } from '../format/model.js'
import { sizeText } from './size-text.js'
import { O_NOFOLLOW } from '../base/fs-safe.js'

export interface ScanFile {
  path: string
  gz: boolean
  size: number
  /** The writer's active file: a partial last line there is a record still being written. */
  active: boolean
  /** Where reading starts: a retry segment's checkpoint (everything before it is accounted for). */
  start: number
  mtimeMs: number
}

/**
 * The files of one kind of a log in replay order: sealed segments oldest first (a retry segment
 * read from its checkpoint on), then the file written now. The corrupt quarantine is one file.
 */
export async function kindFiles(paths: LogPaths, kind: Kind): Promise<ScanFile[]> {
  const out: ScanFile[] = []
  for (const seg of kind === 'corrupt' ? [] : await listSegments(paths[kind])) {
    let start = 0
    if (kind === 'retry') {
      const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
      if (cp.status === 'ok' && (seg.gz || cp.checkpoint.offset <= seg.size)) start = cp.checkpoint.offset
    }
    out.push({ path: seg.path, gz: seg.gz, size: seg.size, active: false, start, mtimeMs: seg.mtimeMs })
  }
  const file = kind === 'corrupt' ? paths.corrupt : paths[kind].active
  const active = await regularFile(file)
  if (active) out.push({ path: file, gz: false, size: active.size, active: true, start: 0, mtimeMs: active.mtimeMs })
  return out
}

export async function regularFile(file: string): Promise<fs.Stats | undefined> {
  const st = await fsp.lstat(file).catch(() => undefined)
  return st?.isFile() ? st : undefined
}

/** Up to `len` bytes of `file` from `pos`, not through a symlink; undefined when it cannot be opened or read. */
export async function readBytesAt(file: string, pos: number, len: number): Promise<Buffer | undefined> {
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
    const b = Buffer.alloc(len)
    return b.subarray(0, (await fh.read(b, 0, len, pos)).bytesRead)
  } catch {
    return undefined
  } finally {
    await fh?.close().catch(() => {})
  }
}

export type ScanItem =
  | { kind: 'record'; file: ScanFile; offset: number; line: string; env: Envelope }
  /** A line read without envelope parsing (the corrupt quarantine's records differ). */
  | { kind: 'line'; file: ScanFile; offset: number; line: string }
  | { kind: 'unparseable'; file: ScanFile; offset: number; line: string | undefined; error: string }
  /** Bytes after the last newline of the active file: a record being written right now. */
  | { kind: 'partial'; file: ScanFile; offset: number }

export interface ScanOptions {
  /** The longest line read whole (the log's maxRecordSize); longer ones are reported unparseable. */
  maxRecordSize: number
  /** Return false to stop the scan. A returned promise pauses reading (stdout backpressure). */
  onItem: (item: ScanItem) => boolean | void | Promise<boolean | void>
  /** Bytes of the file read so far, for progress. */
  onProgress?: (file: ScanFile, bytesInFile: number) => void
  shouldStop?: () => boolean
  /** Parse lines as envelopes (false for the corrupt quarantine, whose records differ). */
  envelopes?: boolean
}

export interface ScanResult {
  stopped: boolean
  /** Files that failed mid-read (a corrupt .gz): reported, never fatal. */
  errors: Array<{ file: string; error: string }>
}

/**
 * The items of `files`, in order; with `newestFirst`, each plain file's items last first
 * (read from its end: see reverse-lines.ts), the same items with the same offsets. A file gone
 * by the time it is opened (removed by a replay, rotated away) is skipped.
 */
export async function scanFiles(files: ScanFile[], opts: ScanOptions & { newestFirst?: boolean }): Promise<ScanResult> {
  const errors: ScanResult['errors'] = []
  let stopped = false
  const parse = opts.envelopes !== false
  const deliver = (item: ScanItem) => handOver(opts, item, () => (stopped = true))
  const stop = () => stopped || (opts.shouldStop?.() ?? false)
  const over = (file: ScanFile, offset: number, length: number) => deliver(oversizedItem(file, offset, length, opts.maxRecordSize))
  for (const file of files) {
    if (stop()) {
      stopped = true
      break
    }
    if (opts.newestFirst && file.gz) throw new Error(`scanFiles: ${file.path} is compressed; a gzip stream reads forward only`)
    let result
    try {
      result = opts.newestFirst
        ? await readLinesBackward(
            file.path,
            file.start,
            opts.maxRecordSize,
            { line: (buf, s, e, offset, torn) => deliver(lineItem(file, buf, s, e, offset, torn, parse)), oversized: (offset, length) => over(file, offset, length) },
            stop,
          )
        : await readLines(
            file.path,
            file.gz,
            file.start,
            opts.maxRecordSize,
            {
              line: (buf, s, e, offset, next, torn) => {
                opts.onProgress?.(file, next - file.start)
                return deliver(lineItem(file, buf, s, e, offset, torn, parse))
              },
              oversized: (_head, offset, next, length) => {
                opts.onProgress?.(file, next - file.start)
                return over(file, offset, length)
              },
            },
            stop,
          )
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    if (result.error) errors.push({ file: file.path, error: result.error.message })
    if (result.stopped) stopped = true
  }
  return { stopped, errors }
}

/**
 * What one line of `file` is, `buf[s..e)` without its newline: the same answer whichever way
 * the file is read (forward, or from the end). A trailing CR is
 * dropped; the bytes after the last newline of the active file are a record being written.
 */
function lineItem(file: ScanFile, buf: Buffer, s: number, e: number, offset: number, torn: boolean, parse: boolean): ScanItem {
  if (torn && file.active) return { kind: 'partial', file, offset }
  if (e > s && buf[e - 1] === 0x0d) e--
  const bytes = buf.subarray(s, e)
  if (!isUtf8(bytes)) return { kind: 'unparseable', file, offset, line: undefined, error: 'invalid UTF-8' }
  const line = bytes.toString('utf8')
  if (!parse) return { kind: 'line', file, offset, line }
  try {
    return { kind: 'record', file, offset, line, env: parseEnvelope(line) }
  } catch (err) {
    return { kind: 'unparseable', file, offset, line, error: (err as Error).message }
  }
}

/** A line longer than `maxRecordSize`, never read whole. */
function oversizedItem(file: ScanFile, offset: number, length: number, maxRecordSize: number): ScanItem {
  return { kind: 'unparseable', file, offset, line: undefined, error: `record of ${length} bytes exceeds the ${sizeText(maxRecordSize)} line limit` }
}

/** Hands `item` to `onItem`; calls `stop` when it, or the promise it returns, says false. */
function handOver(opts: Pick<ScanOptions, 'onItem'>, item: ScanItem, stop: () => void): void | Promise<void> {
  const r = opts.onItem(item)
  if (r === false) stop()
  else if (r instanceof Promise) {
    return r.then((v) => {
      if (v === false) stop()
    })
  }
}
