/**
 * Incremental counting of a file that only grows at its end (the writer's active segments,
 * the corrupt quarantine): what was counted is remembered with the file's identity, and a
 * later call reads only the bytes appended since. Bytes after the last newline are a record
 * still being written; they are left for a later call.
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
import { SegmentMetaBuilder, decodeSegmentMeta, feedBuilder, type SegmentMeta } from './segment-meta.js'

const PROBE = 64
const CHUNK = 256 * 1024
const MAX_TRACKED = 256

export type TailKind = 'envelopes' | 'lines'

export interface TailState {
  kind: TailKind
  ino: number
  birthtimeMs: number
  /** Bytes counted: the offset after the last complete line. */
  end: number
  /** The first min(64, end) bytes, and the min(64, end) bytes before `end`. */
  head: Buffer
  tail: Buffer
  /** kind 'envelopes': the counts so far, as a resumable snapshot. */
  meta?: SegmentMeta
  /** kind 'lines': complete lines so far. */
  lines: number
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

function retire(file: string): void {
  const prev = tracked.get(file)
  if (!prev) return
  tracked.delete(file)
  retired.delete(file)
  retired.set(file, prev)
  if (retired.size > MAX_TRACKED) retired.delete(retired.keys().next().value as string)
}

function remember(file: string, st: TailState): void {
  tracked.delete(file)
  tracked.set(file, st)
  if (tracked.size > MAX_TRACKED) tracked.delete(tracked.keys().next().value as string)
}

/**
 * Bring the counts of `file` up to date. `seed` is a state from elsewhere (a sidecar written
 * by another process) used when this process has none; it is verified like any other.
 */
export async function refreshTail(file: string, kind: TailKind, maxRecordSize: number, seed?: TailState): Promise<TailRead> {
  let fh: fsp.FileHandle
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
  } catch {
    // Gone (sealed, or never created), or a symlink planted at our path: nothing to count.
    retire(file)
    return { state: undefined, scannedBytes: 0 }
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) {
      retire(file)
      return { state: undefined, scannedBytes: 0 }
    }
    let prev = tracked.get(file) ?? seed
    if (prev && !(prev.kind === kind && (await stillAppendedTo(fh, st, prev)))) {
      retire(file)
      prev = undefined
    }
    const start = prev?.end ?? 0
    if (prev && st.size === start) {
      remember(file, prev)
      return { state: prev, scannedBytes: 0 }
    }
    const count = (from: TailState | undefined) =>
      kind === 'lines' ? countLines(fh, st, from) : countEnvelopes(file, st, from, maxRecordSize)
    let next = await count(prev)
    let scannedBytes = Math.max(0, st.size - start)
    if (next === undefined) {
      // The counted end is no longer a line boundary: the file was not just appended to.
      next = await count(undefined)
      scannedBytes += st.size
    }
    if (next === undefined) {
      tracked.delete(file)
      return { state: undefined, scannedBytes }
    }
    await setProbes(fh, next)
    remember(file, next)
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
  const head = await readAt(fh, 0, prev.head.length)
  if (!head.equals(prev.head)) return false
  const tail = await readAt(fh, prev.end - prev.tail.length, prev.tail.length)
  return tail.equals(prev.tail)
}

async function setProbes(fh: fsp.FileHandle, s: TailState): Promise<void> {
  s.head = await readAt(fh, 0, Math.min(PROBE, s.end))
  s.tail = await readAt(fh, s.end - Math.min(PROBE, s.end), Math.min(PROBE, s.end))
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

function fresh(kind: TailKind, st: fs.Stats): TailState {
  return { kind, ino: st.ino, birthtimeMs: st.birthtimeMs, end: 0, head: Buffer.alloc(0), tail: Buffer.alloc(0), lines: 0 }
}

/** Count newlines from the counted end to the current size, reading through our own handle. */
async function countLines(fh: fsp.FileHandle, st: fs.Stats, prev: TailState | undefined): Promise<TailState> {
  const s = prev ? { ...prev } : fresh('lines', st)
  const buf = Buffer.allocUnsafe(CHUNK)
  let pos = s.end
  while (pos < st.size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, st.size - pos), pos)
    if (bytesRead === 0) break
    const got = buf.subarray(0, bytesRead)
    for (let i = got.indexOf(0x0a); i !== -1; i = got.indexOf(0x0a, i + 1)) {
      s.lines++
      s.end = pos + i + 1
    }
    pos += bytesRead
  }
  return s
}

async function countEnvelopes(file: string, st: fs.Stats, prev: TailState | undefined, maxRecordSize: number): Promise<TailState | undefined> {
  const s = prev ? { ...prev } : fresh('envelopes', st)
  const builder = new SegmentMetaBuilder(s.meta)
  let r
  try {
    r = await feedBuilder(builder, file, false, s.end, maxRecordSize, { skipTorn: true })
  } catch {
    // Gone meanwhile (sealed by the writer): what was counted stays valid for its inode.
    return prev ?? s
  }
  if (r.badStart) return undefined
  s.end = r.end
  s.meta = builder.finish({ size: st.size, ino: st.ino, mtimeMs: st.mtimeMs })
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
  let fh: fsp.FileHandle | undefined
  let text: string
  try {
    fh = await fsp.open(sidecar, fs.constants.O_RDONLY | O_NOFOLLOW)
    const st = await fh.stat()
    if (!st.isFile() || st.size > MAX_SIDECAR_BYTES) return out
    text = await fh.readFile('utf8')
  } catch {
    return out
  } finally {
    await fh?.close().catch(() => {})
  }
  let doc: { v?: unknown; files?: unknown }
  try {
    doc = JSON.parse(text) as typeof doc
  } catch {
    return out
  }
  if (!doc || doc.v !== 1 || !doc.files || typeof doc.files !== 'object') return out
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
  for (const [name, s] of states) {
    files[name] = { ...s, head: s.head.toString('base64'), tail: s.tail.toString('base64') }
  }
  const tmp = `${sidecar}.tmp-${process.pid}-${++tmpCounter}`
  try {
    const fh = await fsp.open(tmp, CREATE_EXCL_FLAGS, 0o600)
    try {
      await fh.writeFile(JSON.stringify({ v: 1, files }) + '\n')
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
  if (!r || typeof r !== 'object') return undefined
  if (r.kind !== 'envelopes' && r.kind !== 'lines') return undefined
  for (const k of ['ino', 'end', 'lines'] as const) {
    if (typeof r[k] !== 'number' || !Number.isSafeInteger(r[k]) || (r[k] as number) < 0) return undefined
  }
  if (typeof r.birthtimeMs !== 'number' || !Number.isFinite(r.birthtimeMs)) return undefined
  if (typeof r.head !== 'string' || typeof r.tail !== 'string') return undefined
  const head = Buffer.from(r.head, 'base64')
  const tail = Buffer.from(r.tail, 'base64')
  const end = r.end as number
  if (head.length !== Math.min(PROBE, end) || tail.length !== Math.min(PROBE, end)) return undefined
  let meta: SegmentMeta | undefined
  if (r.kind === 'envelopes') {
    meta = r.meta === undefined ? undefined : decodeSegmentMeta(JSON.stringify(r.meta))
    if (!meta || meta.bytes !== end) return undefined
  }
  return { kind: r.kind, ino: r.ino as number, birthtimeMs: r.birthtimeMs, end, head, tail, lines: r.lines as number, ...(meta ? { meta } : {}) }
}
