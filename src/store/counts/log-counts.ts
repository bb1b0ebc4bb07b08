/**
 * Counts of a log (pending, due, deferred, permanent, corrupt) kept as the log changes, for
 * `/metrics`, overview pages and `stats`: a call costs a listing, a stat and a checkpoint read
 * per segment, plus the bytes appended since the previous call; never a scan of the backlog.
 *
 *  - sealed segments: their SegmentMeta (memory, else the `<key>.meta` sidecar, else computed
 *    once by reading the segment and stored in the sidecar), minus what the replay checkpoint
 *    says is consumed;
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
import { recordSize, resolveOptions, time } from '../../base/checks.js'
import { replayDefaults } from '../../base/options.js'
import {
  type SegmentMeta,
  SegmentMetaBuilder,
  feedBuilder,
  identityOf,
  metaPathOf,
  readSegmentMetaFor,
  removeOrphanSegmentMeta,
  sameIdentity,
  scanSegmentMeta,
  writeSegmentMeta,
} from './segment-meta.js'
import { type LogPaths, type SegmentInfo, listSegments, logPaths } from '../segments.js'
import { type PendingPart, earliest, forgetPendingRuns, pendingPart } from './segment-pending.js'
import {
  type TailKind,
  type TailRead,
  type TailState,
  isSameFile,
  loadTailStates,
  refreshTail,
  saveTailStates,
  tailSidecarPath,
  trackedTail,
  trackedTails,
} from './active-tail.js'

export interface LogCounts {
  /** Retry items not yet consumed by a replay: sealed segments past their checkpoint, plus the active file. */
  pending: number
  /** Pending items whose due time is ≤ now (no `dueTs` = due). */
  due: number
  /** pending − due. */
  deferred: number
  /** Entries of the permanent log (sealed segments and active file). */
  permanent: number
  /** Complete lines of the corrupt quarantine (`corrupt-<log>`). */
  corrupt: number
  /** Earliest first-failure time (`firstTs ?? ts`) among pending items; null when none. */
  oldestPendingTs: number | null
  /** Sealed segments (retry + permanent). */
  segments: number
  /** Bytes of segment and active-file data read by this call (0 when nothing changed). */
  scannedBytes: number
  /** False when `due` is interpolated (see dueAt) or estimated for a partly replayed segment. */
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
// When orphaned sidecars were last looked for, per log.
const lastSweep = new Map<string, number>()
const SWEEP_EVERY_MS = 60_000
// When the active files' counts were last saved for other processes, per sidecar.
const lastSave = new Map<string, number>()
const SAVE_EVERY_MS = 5_000
const SAVE_AFTER_BYTES = 1024 * 1024

/** Forget every cached meta and count (tests, and benchmarks measuring a cold start). */
export function forgetLogCounts(): void {
  metas.clear()
  lastSweep.clear()
  lastSave.clear()
  forgetPendingRuns()
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

interface Resolved {
  now: number
  maxRecordSize: number
}

async function countLog(paths: LogPaths, o: Resolved): Promise<LogCounts> {
  const c: LogCounts = {
    pending: 0,
    due: 0,
    deferred: 0,
    permanent: 0,
    corrupt: 0,
    oldestPendingTs: null,
    segments: 0,
    scannedBytes: 0,
    dueExact: true,
    oldestPendingTsExact: true,
  }
  const [retrySegs, permSegs] = await Promise.all([listSegments(paths.retry), listSegments(paths.permanent)])
  const [retryParts, permMetas] = await Promise.all([
    inBatches(retrySegs, async (seg) => {
      const meta = await metaOf(seg, paths.active, o, c)
      return meta && pendingPart(seg, meta, o.now, o.maxRecordSize)
    }),
    inBatches(permSegs, (seg) => metaOf(seg, paths.permanentActive, o, c)),
  ])
  for (const part of retryParts) {
    if (!part) continue
    c.segments++
    c.scannedBytes += part.scannedBytes
    add(c, part)
  }
  for (const meta of permMetas) {
    if (!meta) continue
    c.segments++
    c.permanent += meta.items
  }

  const [active, permActive, corrupt] = await countActiveFiles(paths, o)
  c.scannedBytes += active.scannedBytes + permActive.scannedBytes + corrupt.scannedBytes
  const am = active.state?.meta
  if (am && am.items > 0) {
    const d = dueAt(am.dueHist, am.minDue, o.now, am.dueHistLow)
    add(c, { pending: am.items, due: d.due, dueExact: d.exact, minTs: am.minTs, minTsExact: true, scannedBytes: 0 })
  }
  c.permanent += permActive.state?.meta?.items ?? 0
  c.corrupt = corrupt.state?.lines ?? 0
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

/** Now and then, drop sidecars of segments deleted by code that does not know about them. */
async function sweepOrphans(paths: LogPaths): Promise<void> {
  const t = Date.now()
  if (t - (lastSweep.get(paths.active) ?? 0) < SWEEP_EVERY_MS) return
  lastSweep.set(paths.active, t)
  if (lastSweep.size > 1024) lastSweep.delete(lastSweep.keys().next().value as string)
  await Promise.all([removeOrphanSegmentMeta(paths.retry), removeOrphanSegmentMeta(paths.permanent)])
}

/**
 * The three files written at their end. A process that has not counted them yet starts from
 * what another process saved (verified before use), and saves what it read for the next.
 */
async function countActiveFiles(paths: LogPaths, o: Resolved): Promise<TailRead[]> {
  const files: Array<[string, TailKind]> = [
    [paths.active, 'envelopes'],
    [paths.permanentActive, 'envelopes'],
    [paths.corrupt, 'lines'],
  ]
  const sidecar = tailSidecarPath(paths.dir, paths.file)
  const seeds = files.some(([f]) => !trackedTail(f)) ? await loadTailStates(sidecar) : new Map<string, TailState>()
  const reads = await Promise.all(files.map(([f, kind]) => refreshTail(f, kind, o.maxRecordSize, seeds.get(path.basename(f)))))
  // Saving costs a write per call while the log grows: worth it after a large read, or now
  // and then (another process then reads at most what was appended since).
  const read = reads.reduce((n, r) => n + r.scannedBytes, 0)
  const t = Date.now()
  if (read > 0 && (read >= SAVE_AFTER_BYTES || t - (lastSave.get(sidecar) ?? 0) >= SAVE_EVERY_MS)) {
    lastSave.set(sidecar, t)
    if (lastSave.size > 1024) lastSave.delete(lastSave.keys().next().value as string)
    const states = new Map<string, TailState>()
    reads.forEach((r, i) => r.state && states.set(path.basename(files[i][0]), r.state))
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
  const id = identityOf(st)
  const cached = metas.get(seg.key)
  if (cached && sameIdentity(cached.file, id)) {
    metas.delete(seg.key)
    metas.set(seg.key, cached)
    return cached
  }
  let meta = await readSegmentMetaFor(seg.key, id)
  let file = seg.path
  if (!meta) {
    meta = await fromActive(seg, st, activePath, o, c)
    if (!meta) {
      const scanned = await scanOrFollow(seg, o)
      if (!scanned) return undefined
      ;[meta, st, file] = scanned
      c.scannedBytes += st.size
    }
    if (sameIdentity(meta.file, identityOf(st))) {
      // A cache only: a read-only directory or a race with the segment's removal just costs a rescan.
      await writeSegmentMeta(seg.key, meta, st.mode & 0o666).catch(() => {})
      if (!fs.existsSync(file)) await fsp.unlink(metaPathOf(seg.key)).catch(() => {})
    }
  }
  metas.set(seg.key, meta)
  if (metas.size > MAX_CACHED_METAS) metas.delete(metas.keys().next().value as string)
  return meta
}

/**
 * A segment the writer just sealed is its former active file (a rename keeps the inode):
 * what was counted of it goes on from where it stopped, so sealing costs no second read.
 */
async function fromActive(seg: SegmentInfo, st: fs.Stats, activePath: string, o: Resolved, c: LogCounts): Promise<SegmentMeta | undefined> {
  if (seg.gz) return undefined
  let t: TailState | undefined
  for (const cand of trackedTails(activePath)) {
    if (cand.kind === 'envelopes' && cand.meta && (await isSameFile(seg.path, st, cand))) t = cand
  }
  if (!t?.meta) return undefined
  const builder = new SegmentMetaBuilder(t.meta)
  try {
    const r = await feedBuilder(builder, seg.path, false, t.end, o.maxRecordSize)
    if (r.badStart || r.error) return undefined
  } catch {
    return undefined
  }
  c.scannedBytes += st.size - t.end
  return builder.finish(identityOf(st))
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
      if (systemCode(err) !== 'ENOENT') throw err
    }
  }
  return undefined
}

function add(c: LogCounts, part: PendingPart): void {
  if (part.pending <= 0) return
  ;[c.oldestPendingTs, c.oldestPendingTsExact] = earliest(
    { pending: c.pending, minTs: c.oldestPendingTs, minTsExact: c.oldestPendingTsExact },
    part,
  )
  c.pending += part.pending
  c.due += part.due
  if (!part.dueExact) c.dueExact = false
}

function systemCode(err: unknown): string | undefined {
  const e = err as { systemCode?: string; code?: string }
  return e?.systemCode ?? e?.code
}
