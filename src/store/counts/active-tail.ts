/**
 * Incremental counting of a file that only grows at its end (the writer's active segments,
 * the corrupt quarantine): what was counted is remembered with the file's identity, and a
 * later call reads only the bytes appended since. Bytes after the last newline are a record
 * still being written; they are left for a later call. The quarantine is counted like a
 * segment: each of its lines is an item or a corrupt line of the meta, so its lines are their sum.
 *
 * "Same file, only appended to" is checked, not assumed: inode and birth time, and the bytes
 * at the start and just before the counted end must still be there (replay recovery may cut
 * the corrupt log back and it may then grow past the old size again). Anything else counts
 * the file again from the start.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { CREATE_EXCL_FLAGS, O_NOFOLLOW } from '../../base/fs-safe.js'
import { SegmentMetaBuilder, decodeSegmentMeta, feedBuilder, isCount, readCapped, setBounded, type SegmentMeta } from './segment-meta.js'

const PROBE = 64
const MAX_TRACKED = 256

export interface TailState {
  ino: number
  birthtimeMs: number
  /** Bytes counted: the offset after the last complete line. */
  end: number
  /** The first min(64, end) bytes, and the min(64, end) bytes before `end`. */
  head: Buffer
  tail: Buffer
  /** The counts so far, as a resumable snapshot. */
  meta: SegmentMeta
}

export interface TailRead {
  /** Undefined when the file does not exist (or is not a regular file). */
  state: TailState | undefined
  scannedBytes: number
}

// Per process, keyed by path; bounded (least recently used goes first).
const tracked = new Map<string, TailState>()
// The last state of a file that is no longer at its path: the writer sealed it (renamed it to
// a segment name), and its counts can still become that segment's meta.
const retired = new Map<string, TailState>()

/** What was counted of `file`: the file there now, or the one that was there before. */
export function trackedTails(file: string): TailState[] {
  return [tracked.get(file), retired.get(file)].filter((s): s is TailState => s !== undefined)
}

export function trackedTail(file: string): TailState | undefined {
  return tracked.get(file)
}

/** Forget every remembered file (tests, and benchmarks measuring a cold start). */
export function forgetTails(): void {
  tracked.clear()
  retired.clear()
}

function retire(file: string): TailRead {
  const prev = tracked.get(file)
  tracked.delete(file)
  if (prev) setBounded(retired, file, prev, MAX_TRACKED)
  return { state: undefined, scannedBytes: 0 }
}

/**
 * Bring the counts of `file` up to date. `seed` is a state from elsewhere (a sidecar written
 * by another process) used when this process has none; it is verified like any other.
 */
export async function refreshTail(file: string, maxRecordSize: number, seed?: TailState): Promise<TailRead> {
  let fh: fsp.FileHandle
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
  } catch {
    // Gone (sealed, or never created), or a symlink planted at our path: nothing to count.
    return retire(file)
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) return retire(file)
    let prev = tracked.get(file) ?? seed
    if (prev && !(await stillAppendedTo(fh, st, prev))) {
      retire(file)
      prev = undefined
    }
    let scannedBytes = st.size - (prev?.end ?? 0)
    let next = prev
    if (!prev || st.size !== prev.end) {
      next = await countFrom(file, st, prev, maxRecordSize)
      if (next === undefined) {
        // The counted end is no longer a line boundary: the file was not just appended to.
        next = (await countFrom(file, st, undefined, maxRecordSize))!
        scannedBytes += st.size
      }
      next.head = await readAt(fh, 0, Math.min(PROBE, next.end))
      next.tail = await readAt(fh, next.end - Math.min(PROBE, next.end), Math.min(PROBE, next.end))
    }
    setBounded(tracked, file, next!, MAX_TRACKED)
    return { state: next, scannedBytes }
  } finally {
    await fh.close().catch(() => {})
  }
}

/** Whether `file` (stat `st`) is the file `state` counted, possibly appended to since. */
export async function isSameFile(file: string, st: fs.Stats, state: TailState): Promise<boolean> {
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
    return await stillAppendedTo(fh, st, state)
  } catch {
    return false
  } finally {
    await fh?.close().catch(() => {})
  }
}

async function stillAppendedTo(fh: fsp.FileHandle, st: fs.Stats, prev: TailState): Promise<boolean> {
  if (st.ino !== prev.ino || st.birthtimeMs !== prev.birthtimeMs || st.size < prev.end) return false
  return (await readAt(fh, 0, prev.head.length)).equals(prev.head) && (await readAt(fh, prev.end - prev.tail.length, prev.tail.length)).equals(prev.tail)
}

async function readAt(fh: fsp.FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len)
  let got = 0
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return buf.subarray(0, got)
}

/** The counts of `file` from `prev` on; undefined when `prev.end` is not a line start. */
async function countFrom(file: string, st: fs.Stats, prev: TailState | undefined, maxRecordSize: number): Promise<TailState | undefined> {
  const s: TailState = prev ? { ...prev } : { ino: st.ino, birthtimeMs: st.birthtimeMs, end: 0, head: Buffer.alloc(0), tail: Buffer.alloc(0), meta: new SegmentMetaBuilder().finish(st) }
  const builder = new SegmentMetaBuilder(s.meta)
  let r
  try {
    r = await feedBuilder(builder, file, false, s.end, maxRecordSize, { skipTorn: true })
  } catch {
    // Gone meanwhile (sealed by the writer): what was counted stays valid for its inode.
    return s
  }
  if (r.badStart) return undefined
  s.end = r.end
  s.meta = builder.finish(st)
  return s
}

// ------------------------------------------------------------------ sharing across processes

const MAX_SIDECAR_BYTES = 4 * 1024 * 1024
let tmpCounter = 0

/**
 * States saved by whichever process counted last, by file name (`orders.log`, …). Each is
 * only a seed: refreshTail verifies it against the file before trusting it. Anything
 * unreadable or malformed reads as nothing.
 */
export async function loadTailStates(sidecar: string): Promise<Map<string, TailState>> {
  const out = new Map<string, TailState>()
  let doc: { v?: unknown; files?: unknown } | undefined
  try {
    doc = JSON.parse((await readCapped(sidecar, MAX_SIDECAR_BYTES)) ?? 'null') as typeof doc
  } catch {
    return out
  }
  if (!doc || doc.v !== 2 || !doc.files || typeof doc.files !== 'object') return out
  for (const [name, raw] of Object.entries(doc.files as Record<string, unknown>)) {
    const st = decodeState(raw)
    if (st) out.set(name, st)
  }
  return out
}

/**
 * Save the states for other processes: temp file and rename, without fsync (a cache: after
 * a power loss an old or missing one only costs a recount). Failures are ignored.
 */
export async function saveTailStates(sidecar: string, states: Map<string, TailState>): Promise<void> {
  const files: Record<string, unknown> = {}
  for (const [name, s] of states) files[name] = { ...s, head: s.head.toString('base64'), tail: s.tail.toString('base64') }
  const tmp = `${sidecar}.tmp-${process.pid}-${++tmpCounter}`
  try {
    const fh = await fsp.open(tmp, CREATE_EXCL_FLAGS, 0o600)
    try {
      await fh.writeFile(JSON.stringify({ v: 2, files }) + '\n')
    } finally {
      await fh.close()
    }
    await fsp.rename(tmp, sidecar)
  } catch {
    await fsp.unlink(tmp).catch(() => {})
  }
}

export function tailSidecarPath(dir: string, file: string): string {
  return path.join(dir, `.${file}.counts`)
}

function decodeState(raw: unknown): TailState | undefined {
  const r = raw as Record<string, unknown> | null
  if (!r || typeof r !== 'object' || !isCount(r.ino) || !isCount(r.end) || typeof r.head !== 'string' || typeof r.tail !== 'string') return undefined
  if (typeof r.birthtimeMs !== 'number' || !Number.isFinite(r.birthtimeMs)) return undefined
  const [head, tail, end] = [Buffer.from(r.head, 'base64'), Buffer.from(r.tail, 'base64'), r.end]
  const meta = decodeSegmentMeta(JSON.stringify(r.meta ?? null))
  if (!meta || meta.bytes !== end || head.length !== Math.min(PROBE, end) || tail.length !== Math.min(PROBE, end)) return undefined
  return { ino: r.ino, birthtimeMs: r.birthtimeMs, end, head, tail, meta }
}
