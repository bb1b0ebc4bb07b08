/**
 * What of a sealed retry segment is still pending, given its replay checkpoint: the items
 * past the checkpoint offset, how many of them are due, and the earliest first-failure time
 * among them — from the segment's SegmentMeta, reading at most the one run of ~1024 items
 * the checkpoint falls into (plain segments; a .gz cannot be read from the middle, so there
 * the run is bounded from its metadata instead).
 */
import path from 'node:path'
import { readCheckpoint } from '../checkpoint.js'
import { dueAt } from './due-histogram.js'
import { readLines } from '../../format/lines.js'
import { type Block, type SegmentMeta, envelopeOfLine } from './segment-meta.js'
import { type SegmentInfo, statePathOf } from '../segments.js'

export interface PendingPart {
  pending: number
  due: number
  dueExact: boolean
  /** Earliest first-failure time among pending items (a lower bound when minTsExact is false). */
  minTs: number | null
  minTsExact: boolean
  /** Segment bytes read to find out (0 unless the checkpoint moved since the last call). */
  scannedBytes: number
}

interface ReadRun {
  /** The checkpoint is not at a line start: replay starts the segment over. */
  badStart: boolean
  items: number
  minTs: number | null
  /** Due times of the items from the checkpoint to the end of the run, ascending. */
  dues: Float64Array
  /** Due times of the run's items before the checkpoint (consumed), ascending. */
  doneDues: Float64Array
}

const MAX_CACHED = 256
// key + identity + offset → what the items between the offset and the end of its run are.
const runs = new Map<string, ReadRun>()

export function forgetPendingRuns(): void {
  runs.clear()
}

const NONE: PendingPart = { pending: 0, due: 0, dueExact: true, minTs: null, minTsExact: true, scannedBytes: 0 }

export async function pendingPart(seg: SegmentInfo, meta: SegmentMeta, now: number, maxRecordSize: number): Promise<PendingPart> {
  const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
  // No checkpoint, or an unreadable one or one past the end: replay starts the segment over.
  const offset = cp.status === 'ok' && cp.checkpoint.offset <= meta.bytes ? cp.checkpoint.offset : 0
  if (offset === 0) return whole(meta, now)
  if (offset === meta.bytes) return NONE
  const { samples } = meta
  // Run k holds the items in [start, end): from sample k-1 (or 0) to sample k (or the end).
  let k = 0
  while (k < samples.length && samples[k][0] <= offset) k++
  const start = k > 0 ? samples[k - 1][0] : 0
  const end = k < samples.length ? samples[k][0] : meta.bytes
  const before = (j: number) => (j === 0 ? 0 : j <= samples.length ? samples[j - 1][1] : meta.items)
  const blocks = meta.blocks ?? fallbackBlocks(meta)
  const rest = ofRuns(blocks, k + 1, before, now)
  const atEnd = before(k + 1)

  if (offset === start) return combine(ofRuns(blocks, k, before, now, k + 1), rest, 0)
  const runItems = atEnd - before(k)
  if (seg.gz) {
    // A .gz is read from its start: the checkpoint's own count of lines passed says how many
    // items of the run remain, and the run's bounds stand in for reading them.
    const consumed = consumedFromCheckpoint(meta, offset, cp.status === 'ok' ? cp.checkpoint.items : -1)
    if (consumed !== undefined && consumed >= before(k) && consumed <= atEnd) {
      return combine(bounded(blocks[k], atEnd - consumed, now, runItems), rest, 0)
    }
  }
  const run = await readRun(seg, meta, start, offset, end, maxRecordSize)
  // Unreadable now (removed or compressed since listed): the run's bounds, as a guess.
  if (!run) return combine(bounded(blocks[k], runItems, now, runItems + 1), rest, 0)
  if (run.badStart) return { ...whole(meta, now), scannedBytes: run.scanned }
  const part: PendingPart = { pending: run.items, due: upperCount(run.dues, now), dueExact: true, minTs: run.minTs, minTsExact: true, scannedBytes: 0 }
  const out = combine(part, rest, run.scanned)
  if (!out.dueExact) {
    // The runs after the checkpoint straddle `now`; the consumed ones may not: then
    // due(pending) = due(all) − due(consumed) is exact.
    const all = dueAt(meta.dueHist, meta.minDue, now, meta.dueHistLow)
    const done = ofRuns(blocks, 0, before, now, k)
    if (all.exact && done.dueExact) out.due = Math.max(0, Math.min(out.pending, all.due - done.due - upperCount(run.doneDues, now)))
    out.dueExact = all.exact && done.dueExact
  }
  return out
}

function whole(meta: SegmentMeta, now: number): PendingPart {
  const d = dueAt(meta.dueHist, meta.minDue, now, meta.dueHistLow)
  return { pending: meta.items, due: d.due, dueExact: d.exact, minTs: meta.minTs, minTsExact: true, scannedBytes: 0 }
}

/** Items before `offset` from the checkpoint's line count, when the corrupt lines before it are known. */
function consumedFromCheckpoint(meta: SegmentMeta, offset: number, lines: number): number | undefined {
  if (lines < 0) return undefined
  if (meta.corrupt === 0) return lines
  if (!meta.corruptAt) return undefined
  return lines - meta.corruptAt.filter((x) => x < offset).length
}

/** Runs j ∈ [from, to) taken whole, from their recorded bounds. */
function ofRuns(blocks: Block[], from: number, before: (j: number) => number, now: number, to = blocks.length): PendingPart {
  let acc: PendingPart = { ...NONE }
  for (let j = from; j < to && j < blocks.length; j++) acc = combine(acc, bounded(blocks[j], before(j + 1) - before(j), now), 0)
  return acc
}

/** `n` of a run's `of` items (the last ones), known only to lie within the run's bounds. */
function bounded(b: Block, n: number, now: number, of = n): PendingPart {
  if (n <= 0) return { ...NONE }
  const [minTs, minDue, maxDue] = b
  let due: number
  let dueExact = true
  if (maxDue === null || maxDue <= now) due = n
  else if (minDue === null || minDue > now) due = 0
  else {
    // Somewhere in between: the run's due times, taken as evenly spread.
    due = Math.min(n - 1, Math.max(1, Math.round((n * (now - minDue)) / (maxDue - minDue))))
    dueExact = false
  }
  // The run's minimum may belong to one of the items not counted: then it is a lower bound.
  return { pending: n, due, dueExact, minTs, minTsExact: n === of, scannedBytes: 0 }
}

function combine(a: PendingPart, b: PendingPart, scanned: number): PendingPart {
  const [minTs, minTsExact] = earliest(a, b)
  return {
    pending: a.pending + b.pending,
    due: a.due + b.due,
    dueExact: a.dueExact && b.dueExact,
    minTs,
    minTsExact,
    scannedBytes: a.scannedBytes + b.scannedBytes + scanned,
  }
}

/**
 * The smaller of two minima. A loose side (a lower bound) only matters when it is not above
 * the other side: its true minimum is at least its bound.
 */
export function earliest(
  a: { pending: number; minTs: number | null; minTsExact: boolean },
  b: { pending: number; minTs: number | null; minTsExact: boolean },
): [number | null, boolean] {
  const am = a.pending > 0 ? a.minTs : null
  const bm = b.pending > 0 ? b.minTs : null
  if (am === null) return [bm, bm === null || b.minTsExact]
  if (bm === null) return [am, a.minTsExact]
  if (am < bm) return [am, a.minTsExact]
  if (bm < am) return [bm, b.minTsExact]
  return [am, a.minTsExact || b.minTsExact]
}

/** A meta written without runs: one bound for every run. */
function fallbackBlocks(meta: SegmentMeta): Block[] {
  return Array.from({ length: meta.items > 0 ? meta.samples.length + 1 : 0 }, () => [meta.minTs, meta.minDue, meta.maxDue] as Block)
}

function upperCount(sorted: Float64Array, now: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid] <= now) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Read the items in [offset, end) (one run), once per segment identity and offset. */
async function readRun(
  seg: SegmentInfo,
  meta: SegmentMeta,
  start: number,
  offset: number,
  end: number,
  maxRecordSize: number,
): Promise<(ReadRun & { scanned: number }) | undefined> {
  const key = `${seg.key}\0${meta.file.ino}\0${meta.file.size}\0${meta.file.mtimeMs}\0${offset}`
  const known = runs.get(key)
  if (known) return { ...known, scanned: 0 }
  const dues: number[] = []
  const doneDues: number[] = []
  let items = 0
  let minTs: number | null = null
  let boundary = false
  let stop = false
  const at = (pos: number) => {
    if (pos === offset) boundary = true
    if (pos >= end) stop = true
  }
  let r
  try {
    r = await readLines(
      seg.path,
      seg.gz,
      start,
      maxRecordSize,
      {
        line(buf, s, e, pos) {
          at(pos)
          if (stop) return
          const env = envelopeOfLine(buf, s, e)
          if (!env) return
          const due = env.dueTs ?? 0
          if (pos < offset) {
            doneDues.push(due)
            return
          }
          items++
          const ts = env.firstTs ?? env.ts
          if (minTs === null || ts < minTs) minTs = ts
          dues.push(due)
        },
        oversized(_h, pos) {
          at(pos)
        },
      },
      () => stop,
    )
  } catch {
    return undefined
  }
  if (r.error && !seg.gz) return undefined
  const run: ReadRun = {
    // Not where a line starts: replay would start the segment over.
    badStart: !boundary,
    items,
    minTs,
    dues: Float64Array.from(dues).sort(),
    doneDues: Float64Array.from(doneDues).sort(),
  }
  runs.set(key, run)
  if (runs.size > MAX_CACHED) runs.delete(runs.keys().next().value as string)
  return { ...run, scanned: seg.gz ? seg.size : end - start }
}
