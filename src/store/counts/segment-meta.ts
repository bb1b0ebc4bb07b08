/**
 * Per-segment metadata: what a sealed segment holds (item counts, time ranges, a histogram of
 * due times), kept next to it as `<segment key>.meta` so that counting a log or deciding that a
 * segment holds nothing due costs a small read instead of a scan.
 *
 * The sidecar is a cache, never a source of truth: it records the identity (size, inode,
 * mtime) of the file it describes, and any mismatch, other version or malformed content
 * makes it count as missing. Whoever needs it then computes it again from the segment.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { type DueHist, DueHistogram, MAX_BUCKETS } from './due-histogram.js'
import type { Envelope } from '../../format/envelope.js'
import { LineDecoder } from '../../format/entry.js'
import { ioError } from '../../base/errors.js'
import { O_NOFOLLOW, writeFileAtomic } from '../../base/fs-safe.js'
import { readLines } from '../../format/lines.js'
import { type SegmentInfo, metaPathOf } from '../segments.js'

export interface FileIdentity {
  size: number
  ino: number
  mtimeMs: number
}

export interface SegmentMeta {
  v: 2
  /** Envelope lines (what a replay would hand to the handler or move on). */
  items: number
  /** Lines a replay would quarantine (unparseable, empty, invalid UTF-8, over the size limit), plus one for an unreadable compressed rest. */
  corrupt: number
  /** Uncompressed bytes covered. */
  bytes: number
  /** Earliest first-failure time (`firstTs ?? ts`) of its items: what `ttl` measures from. */
  minTs: number | null
  /**
   * Earliest due time: `dueTs`, or 0 for an item without one. Replay treats a missing `dueTs`
   * as due whatever the clock (even one behind the item's `ts`), so 0 keeps "minDue > now"
   * meaning "nothing in here is due" for every `now`.
   */
  minDue: number | null
  maxDue: number | null
  /** [due time upper bound (ms), items] ascending, ≤ 64 buckets, for "due now" counts. */
  dueHist: DueHist
  /** The lowest due time in each bucket of dueHist (same length): a bucket spans [low, upper]. */
  dueHistLow: number[]
  /** Reading stopped at `bytes` on unreadable compressed data. */
  damaged?: boolean
  /**
   * Highest `attempt` of its items, when every item's attempt was recorded. A replay may skip
   * a segment unread only when none of its items is exhausted (attempt ≥ maxAttempts), so
   * absent means "unknown": never skipped.
   */
  maxAttempt?: number
  /** Identity of the file it describes; a mismatch means stale. */
  file: FileIdentity
}

/** Larger sidecars are not ours (a sidecar is a few hundred bytes whatever the segment). */
const MAX_META_BYTES = 64 * 1024

/** Builds a SegmentMeta from the lines of a segment, in order, in bounded memory. */
export class SegmentMetaBuilder {
  private items: number
  private corrupt: number
  private end: number
  private minTs: number
  private minDue: number
  private maxDue: number
  private readonly hist: DueHistogram
  private damaged: boolean
  /** -1 once an item came without its attempt: the maximum is then unknown. */
  private maxAttempt: number

  /** `from`: a snapshot to go on from (e.g. counting an active file incrementally). */
  constructor(from?: SegmentMeta) {
    this.items = from?.items ?? 0
    this.corrupt = from?.corrupt ?? 0
    this.end = from?.bytes ?? 0
    this.minTs = from?.minTs ?? Infinity
    this.minDue = from?.minDue ?? Infinity
    this.maxDue = from?.maxDue ?? -Infinity
    this.hist = from ? DueHistogram.from(from.dueHist, from.dueHistLow) : new DueHistogram()
    this.damaged = from?.damaged === true
    this.maxAttempt = from?.maxAttempt ?? (this.items > 0 ? -1 : 0)
  }

  /**
   * One envelope line starting at `offset`, `lineBytes` long including its newline.
   * `firstTs` is the item's first-failure time (`env.firstTs ?? env.ts`), `dueTs` its due time
   * if it has one (none: due at 0, whatever the clock). Lines must come in file order.
   */
  add(offset: number, lineBytes: number, firstTs: number | undefined, dueTs: number | undefined, attempt?: number): void {
    if (attempt === undefined) this.maxAttempt = -1
    else if (this.maxAttempt >= 0 && attempt > this.maxAttempt) this.maxAttempt = attempt
    this.items++
    this.cover(offset, lineBytes)
    if (firstTs !== undefined && firstTs < this.minTs) this.minTs = firstTs
    // No dueTs: due whatever the clock, as replay treats it (see SegmentMeta.minDue).
    const due = dueTs ?? 0
    if (due < this.minDue) this.minDue = due
    if (due > this.maxDue) this.maxDue = due
    this.hist.add(due)
  }

  /** `add` for a parsed envelope. */
  addEnvelope(offset: number, lineBytes: number, env: Envelope): void {
    this.add(offset, lineBytes, env.firstTs ?? env.ts, env.dueTs, env.attempt)
  }

  /** A line a replay would quarantine. */
  addCorrupt(offset: number, lineBytes: number): void {
    this.corrupt++
    this.cover(offset, lineBytes)
  }

  /** The rest of the data could not be read (corrupt gzip): a replay quarantines it as one record. */
  addDamaged(): void {
    if (this.damaged) return
    this.damaged = true
    this.corrupt++
  }

  get itemCount(): number {
    return this.items
  }

  finish(file: FileIdentity): SegmentMeta {
    const { hist, lows } = this.hist.snapshot()
    const meta: SegmentMeta = {
      v: 2,
      items: this.items,
      corrupt: this.corrupt,
      bytes: this.end,
      minTs: finite(this.minTs),
      minDue: finite(this.minDue),
      maxDue: finite(this.maxDue),
      dueHist: hist,
      dueHistLow: lows,
      file: { size: file.size, ino: file.ino, mtimeMs: file.mtimeMs },
    }
    if (this.damaged) meta.damaged = true
    if (this.maxAttempt >= 0 && this.items > 0) meta.maxAttempt = this.maxAttempt
    return meta
  }

  private cover(offset: number, lineBytes: number): void {
    if (offset + lineBytes > this.end) this.end = offset + lineBytes
  }
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null
}

/** `map.set(key, value)` as the most recently used entry, the least recently used one dropped past `max`; returns `value`. */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): V {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value as K)
  return value
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.ino === b.ino && a.mtimeMs === b.mtimeMs
}

/** Atomically replace the sidecar (temp file, fsync, rename, fsync dir). */
export async function writeSegmentMeta(segKey: string, meta: SegmentMeta, mode: number): Promise<void> {
  const file = metaPathOf(segKey)
  try {
    await writeFileAtomic(file, JSON.stringify(meta) + '\n', mode)
  } catch (err) {
    throw ioError(`write ${file}`, err)
  }
}

/**
 * The sidecar of a segment, or undefined when it is missing, unreadable, malformed, or
 * describes another file than the one at `seg.path` now. Never throws on bad content.
 */
export async function readSegmentMeta(seg: SegmentInfo): Promise<SegmentMeta | undefined> {
  const st = await fsp.lstat(seg.path).catch(() => undefined)
  return st?.isFile() ? readSegmentMetaFor(seg.key, st) : undefined
}

/** The sidecar of `segKey` if it describes a file of identity `id` (from a stat the caller made). */
export async function readSegmentMetaFor(segKey: string, id: FileIdentity): Promise<SegmentMeta | undefined> {
  const text = await readCapped(metaPathOf(segKey), MAX_META_BYTES).catch(() => undefined)
  const meta = text === undefined ? undefined : decodeSegmentMeta(text)
  return meta && sameIdentity(meta.file, id) ? meta : undefined
}

/** A cache file's text, not through a symlink; undefined when missing, not a regular file, or over `max` bytes. */
export async function readCapped(file: string, max: number): Promise<string | undefined> {
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
    const st = await fh.stat()
    return st.isFile() && st.size <= max ? await fh.readFile('utf8') : undefined
  } catch {
    return undefined
  } finally {
    await fh?.close().catch(() => {})
  }
}

/** Parse and check a sidecar's text; undefined unless every field has the right shape. */
export function decodeSegmentMeta(text: string): SegmentMeta | undefined {
  let m: Record<string, unknown>
  try {
    m = JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
  // Version 1 (with offset samples) reads as stale: computed again once, never misread.
  if (m === null || typeof m !== 'object' || Array.isArray(m) || m.v !== 2) return undefined
  if (!isCount(m.items) || !isCount(m.corrupt) || !isCount(m.bytes)) return undefined
  for (const k of ['minTs', 'minDue', 'maxDue'] as const) {
    if (m[k] !== null && !(typeof m[k] === 'number' && Number.isFinite(m[k]))) return undefined
  }
  const items = m.items as number
  if ((items === 0) !== (m.minDue === null)) return undefined
  if (!pairs(m.dueHist, MAX_BUCKETS)) return undefined
  const hist = m.dueHist as DueHist
  if (hist.reduce((n, [, c]) => n + c, 0) !== items) return undefined
  const lows = m.dueHistLow
  if (!Array.isArray(lows) || lows.length !== hist.length) return undefined
  for (let i = 0; i < hist.length; i++) {
    const low = lows[i] as unknown
    if (typeof low !== 'number' || !Number.isFinite(low) || low > hist[i][0] || (i > 0 && low <= hist[i - 1][0])) return undefined
  }
  if (m.damaged !== undefined && m.damaged !== true) return undefined
  if (m.maxAttempt !== undefined && !(Number.isSafeInteger(m.maxAttempt) && (m.maxAttempt as number) >= 1)) return undefined
  const f = m.file as Record<string, unknown> | null
  if (!f || typeof f !== 'object' || !isCount(f.size) || !isCount(f.ino) || typeof f.mtimeMs !== 'number' || !Number.isFinite(f.mtimeMs)) {
    return undefined
  }
  return m as unknown as SegmentMeta
}

export function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

function pairs(x: unknown, max: number): boolean {
  if (!Array.isArray(x) || x.length > max) return false
  let prev = -Infinity
  for (const p of x) {
    if (!Array.isArray(p) || p.length !== 2) return false
    const [a, b] = p as unknown[]
    if (typeof a !== 'number' || !Number.isFinite(a) || a <= prev || !isCount(b) || b === 0) return false
    prev = a
  }
  return true
}

/**
 * Feed the lines of `file` from `start` (a line boundary) to its end into a builder. Returns
 * the offset after the last line fed: with `skipTorn` (a file still being written), bytes
 * after the last newline are a record in progress and are left for a later call.
 */
export async function feedBuilder(
  builder: SegmentMetaBuilder,
  file: string,
  gz: boolean,
  start: number,
  maxRecordSize: number,
  opts: { skipTorn?: boolean } = {},
): Promise<{ end: number; error?: Error; badStart?: string }> {
  let end = start
  const decoder = new LineDecoder()
  const r = await readLines(
    file,
    gz,
    start,
    maxRecordSize,
    {
      line(buf, s, e, offset, next, torn) {
        if (torn && opts.skipTorn) return
        const env = decoder.decode(buf, s, e)
        if (env) builder.addEnvelope(offset, next - offset, env)
        else builder.addCorrupt(offset, next - offset)
        end = next
      },
      oversized(_head, offset, next) {
        builder.addCorrupt(offset, next - offset)
        end = next
      },
    },
    () => false,
  )
  return { end, ...(r.error ? { error: r.error } : {}), ...(r.badStart ? { badStart: r.badStart } : {}) }
}

/**
 * Compute a segment's metadata by reading it (plain or .gz), in bounded memory. The identity
 * is taken before reading, so a file replaced meanwhile yields a sidecar that reads as stale.
 */
export async function scanSegmentMeta(seg: SegmentInfo, maxRecordSize: number): Promise<SegmentMeta> {
  const st = await fsp.lstat(seg.path).catch((err) => Promise.reject(ioError(`stat ${seg.path}`, err)))
  const builder = new SegmentMetaBuilder()
  const r = await feedBuilder(builder, seg.path, seg.gz, 0, maxRecordSize).catch((err) => Promise.reject(ioError(`read ${seg.path}`, err)))
  if (r.error) {
    // What replay does with the unreadable rest of a .gz: one quarantined record. Any
    // other read error is not a property of the file.
    if (!seg.gz && !(r.error as NodeJS.ErrnoException).code?.startsWith('Z_')) throw ioError(`read ${seg.path}`, r.error)
    builder.addDamaged()
  }
  return builder.finish(st)
}
