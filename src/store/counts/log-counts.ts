/**
 * Counts of a log (pending, due, deferred, permanent, corrupt) kept as the log changes, for
 * `/metrics`, overview pages and `stats`: a call costs a listing, a stat and a checkpoint read
 * per segment, plus the bytes appended since the previous call; never a scan of the backlog.
 *
 *  - sealed segments: their SegmentMeta (memory, else the `<key>.meta` sidecar, else computed
 *    once by reading the segment and stored in the sidecar), minus what the replay checkpoint
 *    says is consumed (its own count of the lines it passed);
 *  - active files (retry, permanent, corrupt quarantine): counted incrementally
 *    (src/store/counts/active-tail.ts), in memory and in one small sidecar for other processes.
 *
 * Read-only towards the log: the only files written are caches (sidecars), and failing to
 * write them (read-only directory, another user's files) only costs speed.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { dueAt } from './due-histogram.js'
import { systemCodeOf } from '../../base/errors.js'
import { recordSize, resolveOptions, time } from '../../base/checks.js'
import type { Counts } from '../../format/model.js'
import { replayDefaults } from '../../base/options.js'
import { readCheckpoint } from '../checkpoint.js'
import { readBytesAt } from '../scan.js'
import { type SegmentMeta, SegmentMetaBuilder, feedBuilder, readSegmentMetaFor, sameIdentity, scanSegmentMeta, setBounded, writeSegmentMeta } from './segment-meta.js'
import { type LogPaths, type SegmentInfo, listSegments, logPaths, metaPathOf, removeOrphanSidecars, statePathOf } from '../segments.js'
import { type TailRead, type TailState, isSameFile, loadTailStates, refreshTail, saveTailStates, tailSidecarPath, trackedTail, trackedTails } from './active-tail.js'

/**
 * The cheap counts (format/model's Counts) of a local log: pending counts sealed segments past
 * their checkpoint plus the active file; permanent counts sealed segments and the active file;
 * corrupt counts the quarantine's complete lines.
 */
export interface LogCounts extends Counts {
  /** Sealed segments (retry + permanent). */
  segments: number
  /** Bytes of segment and active-file data read by this call (0 when nothing changed). */
  scannedBytes: number
  /** False when `due` is interpolated (see dueAt) or estimated for a partly replayed segment (docs/log-counts.md gives the bound). */
  dueExact: boolean
  /** False when a partly replayed segment's earliest time may belong to an item already consumed (a lower bound). */
  oldestPendingTsExact: boolean
}

export interface LogCountsOptions {
  /** "Now" for due/deferred (epoch ms); default Date.now(). */
  now?: number
  /** Longest line read as a record; longer ones count as corrupt, as in replay. Default 16 MiB. */
  maxRecordSize?: number | string
}

const MAX_CACHED_METAS = 4096
const SEGMENTS_AT_ONCE = 16
// Per process: key → meta, checked against the segment's identity on every use.
const metas = new Map<string, SegmentMeta>()
// One count at a time per log in this process: concurrent callers share the work.
const running = new Map<string, Promise<LogCounts>>()
// Segment key + identity + checkpoint offset → what lies past the offset (segments with corrupt lines).
const rests = new Map<string, SegmentMeta | undefined>()
const MAX_RESTS = 256
// When orphaned sidecars were last looked for, per log; when the active files' counts were
// last saved for other processes, per sidecar.
const lastSweep = new Map<string, number>()
const SWEEP_EVERY_MS = 60_000
const lastSave = new Map<string, number>()
const SAVE_EVERY_MS = 5_000
const SAVE_AFTER_BYTES = 1024 * 1024

/** Forget every cached meta and count (tests, and benchmarks measuring a cold start). */
export function forgetLogCounts(): void {
  metas.clear()
  lastSweep.clear()
  lastSave.clear()
  rests.clear()
}

export async function logCounts(logPath: string, opts?: LogCountsOptions): Promise<LogCounts> {
  const o: Resolved = resolveOptions('logCounts', opts, { now: Date.now(), maxRecordSize: replayDefaults.maxRecordSize }, { now: time, maxRecordSize: recordSize })
  const paths = logPaths(logPath)
  // Serialized per log: two scrapes at once would otherwise both compute a missing meta.
  const prev = running.get(paths.active)
  const run = (async () => {
    if (prev) await prev.catch(() => {})
    return countLog(paths, o)
  })()
  running.set(paths.active, run)
  try {
    return await run
  } finally {
    if (running.get(paths.active) === run) running.delete(paths.active)
  }
}

type Resolved = { [K in keyof LogCountsOptions]-?: number }

async function countLog(paths: LogPaths, o: Resolved): Promise<LogCounts> {
  const c: LogCounts = { pending: 0, due: 0, deferred: 0, permanent: 0, corrupt: 0, oldestPendingTs: null, segments: 0, scannedBytes: 0, dueExact: true, oldestPendingTsExact: true }
  const [retrySegs, permSegs] = await Promise.all([listSegments(paths.retry), listSegments(paths.permanent)])
  const [retryParts, permMetas] = await Promise.all([
    inBatches(retrySegs, async (seg) => {
      const meta = await metaOf(seg, paths.active, o, c)
      return meta && pendingPart(seg, meta, o, c)
    }),
    inBatches(permSegs, (seg) => metaOf(seg, paths.permanentActive, o, c)),
  ])
  const parts = retryParts.filter((p) => p !== undefined)
  const perm = permMetas.filter((m) => m !== undefined)
  c.segments = parts.length + perm.length
  for (const p of parts) add(c, p)
  for (const m of perm) c.permanent += m.items
  const [active, permActive, corrupt] = await countActiveFiles(paths, o)
  c.scannedBytes += active.scannedBytes + permActive.scannedBytes + corrupt.scannedBytes
  if (active.state) add(c, whole(active.state.meta, o.now))
  c.permanent += permActive.state?.meta.items ?? 0
  c.corrupt = corrupt.state ? corrupt.state.meta.items + corrupt.state.meta.corrupt : 0
  c.deferred = c.pending - c.due
  await sweepOrphans(paths)
  return c
}

/**
 * `fn` over the segments, SEGMENTS_AT_ONCE at a time, results in order. A count then waits for
 * a few round trips of file I/O per batch instead of per segment: each round trip can wait a
 * time slice of a scan sharing the event loop (src/base/time-slice.ts), which is what a /metrics
 * scrape during a scan would otherwise pay per segment. A batch of segments without metadata
 * is read at once, holding one read buffer each.
 */
async function inBatches<T>(segs: SegmentInfo[], fn: (seg: SegmentInfo) => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < segs.length; i += SEGMENTS_AT_ONCE) {
    // Settled, not raced: a failure leaves nothing of this count still running when it rejects.
    for (const r of await Promise.allSettled(segs.slice(i, i + SEGMENTS_AT_ONCE).map(fn))) {
      if (r.status === 'rejected') throw r.reason
      out.push(r.value)
    }
  }
  return out
}

/** Now and then, drop sidecars of segments deleted by hand. */
async function sweepOrphans(paths: LogPaths): Promise<void> {
  if (timeFor(lastSweep, paths.active, SWEEP_EVERY_MS)) await removeOrphanSidecars(paths, { checkpoints: false })
}

/** True, and noted, when `every` ms have passed since the last time it was true for `key` (or `now` says so). */
function timeFor(last: Map<string, number>, key: string, every: number, now = false): boolean {
  const t = Date.now()
  if (!now && t - (last.get(key) ?? 0) < every) return false
  setBounded(last, key, t, 1024)
  return true
}

/**
 * The three files written at their end. A process that has not counted them yet starts from
 * what another process saved (verified before use), and saves what it read for the next.
 */
async function countActiveFiles(paths: LogPaths, o: Resolved): Promise<TailRead[]> {
  const files = [paths.active, paths.permanentActive, paths.corrupt]
  const sidecar = tailSidecarPath(paths.dir, paths.file)
  const seeds = files.some((f) => !trackedTail(f)) ? await loadTailStates(sidecar) : new Map<string, TailState>()
  const reads = await Promise.all(files.map((f) => refreshTail(f, o.maxRecordSize, seeds.get(path.basename(f)))))
  // Saving costs a write per call while the log grows: worth it after a large read, or now
  // and then (another process then reads at most what was appended since).
  const read = reads.reduce((n, r) => n + r.scannedBytes, 0)
  if (read > 0 && timeFor(lastSave, sidecar, SAVE_EVERY_MS, read >= SAVE_AFTER_BYTES)) {
    const states = new Map<string, TailState>()
    reads.forEach((r, i) => r.state && states.set(path.basename(files[i]), r.state))
    await saveTailStates(sidecar, states)
  }
  return reads
}

// ------------------------------------------------------------------ sealed segments

/** The meta of a sealed segment, from memory, its sidecar, the active file it was, or a scan. */
async function metaOf(seg: SegmentInfo, activePath: string, o: Resolved, c: LogCounts): Promise<SegmentMeta | undefined> {
  let st: fs.Stats
  try {
    st = await fsp.lstat(seg.path)
  } catch {
    return undefined // finished and removed by a replay since the listing
  }
  const cached = metas.get(seg.key)
  if (cached && sameIdentity(cached.file, st)) return setBounded(metas, seg.key, cached, MAX_CACHED_METAS)
  let meta = await readSegmentMetaFor(seg.key, st)
  let file = seg.path
  if (!meta) {
    meta = await fromActive(seg, st, activePath, o, c)
    if (!meta) {
      const scanned = await scanOrFollow(seg, o)
      if (!scanned) return undefined
      ;[meta, st, file] = scanned
      c.scannedBytes += st.size
    }
    if (sameIdentity(meta.file, st)) {
      // A cache only: a read-only directory or a race with the segment's removal just costs a rescan.
      await writeSegmentMeta(seg.key, meta, st.mode & 0o666).catch(() => {})
      if (!fs.existsSync(file)) await fsp.unlink(metaPathOf(seg.key)).catch(() => {})
    }
  }
  return setBounded(metas, seg.key, meta, MAX_CACHED_METAS)
}

/**
 * A segment the writer just sealed is its former active file (a rename keeps the inode):
 * what was counted of it goes on from where it stopped, so sealing costs no second read.
 */
async function fromActive(seg: SegmentInfo, st: fs.Stats, activePath: string, o: Resolved, c: LogCounts): Promise<SegmentMeta | undefined> {
  if (seg.gz) return undefined
  let t: TailState | undefined
  for (const cand of trackedTails(activePath)) {
    if (await isSameFile(seg.path, st, cand)) t = cand
  }
  if (!t) return undefined
  const builder = new SegmentMetaBuilder(t.meta)
  try {
    const r = await feedBuilder(builder, seg.path, false, t.end, o.maxRecordSize)
    if (r.badStart || r.error) return undefined
  } catch {
    return undefined
  }
  c.scannedBytes += st.size - t.end
  return builder.finish(st)
}

/**
 * Scan a segment; one compressed by the writer since it was listed is scanned as its .gz
 * (same key, same records). Undefined when it is gone: finished by a replay.
 */
async function scanOrFollow(seg: SegmentInfo, o: Resolved): Promise<[SegmentMeta, fs.Stats, string] | undefined> {
  for (const s of seg.gz ? [seg] : [seg, { ...seg, path: `${seg.path}.gz`, gz: true }]) {
    try {
      const st = await fsp.lstat(s.path)
      return [await scanSegmentMeta(s, o.maxRecordSize), st, s.path]
    } catch (err) {
      if (systemCodeOf(err) !== 'ENOENT') throw err
    }
  }
  return undefined
}

/** What of a retry segment a replay has not consumed yet, and how sure each figure is. */
interface Part {
  pending: number
  due: number
  dueExact: boolean
  minTs: number | null
  /** False: a lower bound, which may belong to an item already consumed. */
  minTsExact: boolean
}

function whole(meta: SegmentMeta, now: number): Part {
  const d = dueAt(meta.dueHist, meta.dueHistLow, now)
  return { pending: meta.items, due: d.due, dueExact: d.exact, minTs: meta.minTs, minTsExact: true }
}

/**
 * The part of a sealed retry segment past its replay checkpoint (bounds in docs/log-counts.md).
 * A checkpoint replay would not resume from (none, unreadable, past the end, not at a line
 * start) leaves the whole segment pending, as replay would. When every line is an item (no
 * corrupt line: every segment a replayer wrote, and every writer segment without a torn line),
 * the checkpoint's own count of the lines it passed gives `pending` without a read. Otherwise
 * the rest is read, once per checkpoint position.
 */
async function pendingPart(seg: SegmentInfo, meta: SegmentMeta, o: Resolved, c: LogCounts): Promise<Part> {
  const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
  const at = cp.status === 'ok' ? cp.checkpoint : undefined
  if (!at || at.offset === 0 || at.offset > meta.bytes) return whole(meta, o.now)
  if (at.offset === meta.bytes) return { pending: 0, due: 0, dueExact: true, minTs: null, minTsExact: true }
  // Replay resumes only right after a newline (unreadable: assumed).
  const before = seg.gz ? undefined : await readBytesAt(seg.path, at.offset - 1, 1)
  if (before !== undefined && before[0] !== 0x0a) return whole(meta, o.now)
  // A line count that cannot be right (0 past offset 0: a checkpoint of an early version) is not used.
  if (meta.corrupt === 0 && at.items > 0 && at.items < meta.items) return partOf(meta, meta.items - at.items, o.now)
  const rest = await restOf(seg, meta, at.offset, o, c)
  return whole(rest ?? meta, o.now)
}

/** The last `pending` items of a segment, the others consumed: which of them are due is known only at the ends. */
function partOf(meta: SegmentMeta, pending: number, now: number): Part {
  const part: Part = { pending, due: pending, dueExact: true, minTs: meta.minTs, minTsExact: false }
  if (meta.maxDue! <= now) return part
  if (meta.minDue! > now) return { ...part, due: 0 }
  // Replay consumes in file order, and items are appended about in due order: the consumed
  // ones are taken to be the earliest due, the low end of the bound.
  const all = dueAt(meta.dueHist, meta.dueHistLow, now).due
  return { ...part, due: Math.min(pending, Math.max(0, all - (meta.items - pending))), dueExact: false }
}

/** What lies past `offset`, read once per checkpoint position; undefined when unreadable or replay would start over. */
async function restOf(seg: SegmentInfo, meta: SegmentMeta, offset: number, o: Resolved, c: LogCounts): Promise<SegmentMeta | undefined> {
  const key = `${seg.key}\0${meta.file.ino}\0${meta.file.size}\0${meta.file.mtimeMs}\0${offset}`
  if (rests.has(key)) return rests.get(key)
  const b = new SegmentMetaBuilder()
  let r
  try {
    r = await feedBuilder(b, seg.path, seg.gz, offset, o.maxRecordSize)
  } catch {
    return undefined // removed or compressed since listed: counted whole this time
  }
  if (r.error && !seg.gz) return undefined // an I/O error, not a property of the file
  c.scannedBytes += seg.gz ? seg.size : meta.bytes - offset
  return setBounded(rests, key, r.badStart ? undefined : b.finish(meta.file), MAX_RESTS)
}

function add(c: LogCounts, p: Part): void {
  if (p.pending <= 0) return
  // The smaller minimum; a lower bound equal to an exact one is exact.
  const cur = c.pending > 0 ? c.oldestPendingTs : null
  if (cur === null || (p.minTs !== null && p.minTs < cur)) {
    c.oldestPendingTs = p.minTs
    c.oldestPendingTsExact = p.minTsExact
  } else if (p.minTs === cur) c.oldestPendingTsExact ||= p.minTsExact
  c.pending += p.pending
  c.due += p.due
  if (!p.dueExact) c.dueExact = false
}
