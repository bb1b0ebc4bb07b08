/**
 * `failureSeries(logPath)`: failures over time for a local log (src/format/series.ts has the
 * shape and what counts), kept per file so that a later read costs the bytes written since.
 *
 * Each file's cells (UTC hour × kind × fingerprint → entries) are counted once and kept:
 * - a sealed segment never changes, so it is read once; compressing it (`X` → `X.gz`) keeps
 *   its cells, as its lines are the same;
 * - an active file (and the corrupt quarantine) is read from the offset reached last time; a
 *   partial last line is left for the next read. Sealing renames the active file, so the
 *   segment it becomes (the same inode, the same first bytes) keeps what was counted;
 * - a retry segment's checkpoint moving on (a replay at work) subtracts the lines it passed:
 *   those bytes are read once more (a `.gz` one is counted again from its checkpoint);
 * - a file that shrank or whose first bytes differ (rewritten, replaced) is counted afresh; a
 *   file gone is forgotten.
 * Only hours that a range ending now or later can show are kept (the last 31 days), so memory
 * follows the groups and hours in range, not the entries. Nothing is written to disk: a new
 * process counts once from the start (as costly as one `stats()` scan).
 */
import fsp from 'node:fs/promises'
import { recordSize, checkOptions } from '../base/checks.js'
import { DeadLetterError } from '../base/errors.js'
import { loggerDefaults } from '../base/options.js'
import { parseCorruptRecord } from '../format/entry.js'
import { parseEnvelope } from '../format/envelope.js'
import { fingerprint } from '../format/fingerprint.js'
import { readLines } from '../format/lines.js'
import type { Kind } from '../format/model.js'
import { OTHER_REASONS } from '../format/reasons.js'
import { type Cells, type FailureSeries, type FailureSeriesOptions, DAY_MS, HOUR_MS, addCell, assembleSeries, resolveSeries } from '../format/series.js'
import { resolveLogPath } from '../store/log-path.js'
import { type ScanFile, kindFiles, readBytesAt } from '../store/scan.js'
import type { LogPaths } from '../store/segments.js'

/** Hours kept: a 30-day range by day starts at most 30 × 24 − 1 hours before the current one. */
const KEEP_MS = 31 * DAY_MS
/** Distinct groups kept per file and kind; later new ones are counted as "(other reasons)". */
const MAX_GROUPS_PER_FILE = 1000
const HEAD_BYTES = 64

export interface FailureSeriesReader {
  /** Failures over time as of now: reads only what was written (or checkpointed) since the last call. */
  read(options?: FailureSeriesOptions): Promise<FailureSeries>
  /** What the reads cost so far: bytes of lines read, and files counted from their start. */
  readonly cost: { bytesRead: number; filesCounted: number }
}

/** hour (epoch ms / HOUR_MS) → kind → fingerprint → entries. */
type HourCells = Map<number, Map<string, number>>

interface FileState {
  kind: Kind
  /** Name last seen under (a segment's key: its path without `.gz`). */
  key: string
  ino: number
  gz: boolean
  /** First bytes, to tell the same file from one rewritten or replaced under the same inode. */
  head: Buffer
  /** Lines in [from, to) are counted. */
  from: number
  to: number
  /** The whole file was read while sealed. */
  sealedDone: boolean
  cells: HourCells
  groups: Set<string>
}

export function failureSeries(logPath: string, options?: { maxRecordSize?: number | string }): FailureSeriesReader {
  const o = checkOptions('failureSeries', options, { maxRecordSize: recordSize })
  const maxRecordSize = o.maxRecordSize ?? loggerDefaults.maxRecordSize
  const states = new Map<string, FileState>()
  const cost = { bytesRead: 0, filesCounted: 0 }
  let paths: LogPaths | undefined
  let running: Promise<unknown> = Promise.resolve()

  const refresh = async (now: number): Promise<void> => {
    paths ??= await resolveLogPath('failureSeries', logPath)
    const lists: Array<[Kind, ScanFile[]]> = []
    for (const kind of ['retry', 'permanent', 'corrupt'] as const) lists.push([kind, await kindFiles(paths, kind)])
    const seen = new Set<FileState>()
    // A range asked for at a later `now` (tests) must not drop hours a range ending now shows.
    const oldest = Math.floor((Math.min(now, Date.now()) - KEEP_MS) / HOUR_MS)
    for (const [kind, files] of lists) {
      for (const f of files) {
        const st = await fileState(kind, f)
        if (st) {
          seen.add(st)
          prune(st, oldest)
        }
      }
    }
    for (const [id, st] of states) if (!seen.has(st)) states.delete(id)
  }

  /** The state of `f`, brought up to date; undefined when it vanished meanwhile. */
  async function fileState(kind: Kind, f: ScanFile): Promise<FileState | undefined> {
    const key = f.gz ? f.path.slice(0, -3) : f.path
    let st = f.gz ? states.get(`gz:${key}`) : undefined
    const s = await fsp.lstat(f.path).catch(() => undefined)
    const head = s && (await readBytesAt(f.path, 0, HEAD_BYTES))
    if (!s || !head) return undefined
    const ino = s.ino
    const id = f.gz ? `gz:${key}` : `ino:${ino}`
    st ??= states.get(id)
    if (f.gz && !st) {
      // Compressed since the last read: the same lines as the plain segment counted before.
      const plain = [...states.values()].find((s) => !s.gz && s.key === key && s.sealedDone && s.kind === kind)
      if (plain) {
        for (const [k, v] of states) if (v === plain) states.delete(k)
        st = { ...plain, gz: true, head, ino }
      }
    }
    if (st && (st.kind !== kind || (!st.gz && !head.subarray(0, st.head.length).equals(st.head)) || (!f.gz && f.size < st.to) || f.start < st.from)) st = undefined
    if (st && f.start > st.from) {
      // A replay moved the checkpoint: the lines it passed no longer count.
      if (st.gz) st = undefined
      else await count(st, f, st.from, Math.min(f.start, st.to), -1)
      if (st) st.from = Math.max(st.from, f.start)
      if (st && st.to < st.from) st = undefined
    }
    if (!st) {
      cost.filesCounted++
      st = { kind, key, ino, gz: f.gz, head, from: f.start, to: f.start, sealedDone: false, cells: new Map(), groups: new Set() }
    }
    st.key = key
    if (!st.gz && head.length > st.head.length) st.head = head
    states.set(id, st)
    if (!st.sealedDone) {
      const got = await count(st, f, st.to, Infinity, 1)
      if (got !== undefined) st.to = got
      st.sealedDone = !f.active
    }
    return st
  }

  /** Counts (sign 1) or uncounts (−1) the lines of `f` starting in [start, stop); returns the offset after the last whole line. */
  async function count(st: FileState, f: ScanFile, start: number, stop: number, sign: 1 | -1): Promise<number | undefined> {
    let end = start
    let past = false
    let r
    try {
      r = await readLines(
        f.path,
        f.gz,
        start,
        maxRecordSize,
        {
          line: (buf, s, e, offset, next, torn) => {
            if (offset >= stop) {
              past = true
              return
            }
            // Bytes after the last newline of a file being written: a record not yet whole.
            if (torn && f.active) return
            cost.bytesRead += next - offset
            end = next
            const line = buf.toString('utf8', s, e)
            const hit = st.kind === 'corrupt' ? corruptHit(line) : envelopeHit(line)
            if (hit) add(st, hit.ts, hit.fp, sign)
          },
          oversized: (_head, offset, next) => {
            if (offset >= stop) {
              past = true
              return
            }
            cost.bytesRead += next - offset
            end = next
          },
        },
        () => past,
      )
    } catch (err) {
      // Removed (a replay finished it) between listing and opening: nothing to count.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    if (r.badStart) return undefined
    if (f.gz) cost.bytesRead += start
    return end
  }

  function add(st: FileState, ts: number, fp: string, sign: 1 | -1): void {
    const hour = Math.floor(ts / HOUR_MS)
    if (sign > 0 && !st.groups.has(fp)) {
      if (st.groups.size >= MAX_GROUPS_PER_FILE) fp = OTHER_REASONS
      else st.groups.add(fp)
    } else if (sign < 0 && !st.groups.has(fp)) fp = OTHER_REASONS
    let row = st.cells.get(hour)
    if (!row) {
      if (sign < 0) return
      st.cells.set(hour, (row = new Map()))
    }
    const n = (row.get(fp) ?? 0) + sign
    if (n > 0) row.set(fp, n)
    else row.delete(fp)
  }

  return {
    cost,
    async read(options) {
      const r = resolveSeries('failureSeries', options)
      if (r.host !== undefined || r.byHost) throw new DeadLetterError('DLQ_INVALID_OPTION', 'dlq: failureSeries() options `host` and `byHost` are the central store\'s: a local log has no hosts')
      const p = running.then(async () => {
        await refresh(r.end - 1)
        const cells: Cells = new Map()
        const first = Math.floor(r.start / HOUR_MS)
        const last = Math.floor((r.end - 1) / HOUR_MS)
        for (const st of states.values()) {
          if (!r.kinds.includes(st.kind)) continue
          for (const [hour, row] of st.cells) {
            if (hour < first || hour > last) continue
            const b = Math.floor((hour * HOUR_MS - r.start) / r.bucketMs)
            for (const [fp, c] of row) addCell(cells, b, fp, c)
          }
        }
        return assembleSeries(r, cells)
      })
      running = p.catch(() => undefined)
      return p
    },
  }
}

function prune(st: FileState, oldestHour: number): void {
  for (const hour of st.cells.keys()) if (hour < oldestHour) st.cells.delete(hour)
}

/**
 * Reasons repeat (the same failure, many entries): their fingerprints are remembered, a few
 * thousand at most, forgotten all at once when full.
 */
const fingerprints = new Map<string, string>()
const MAX_REMEMBERED = 4096

function fingerprintOf(reason: string | null): string {
  if (reason === null) return fingerprint(reason)
  let fp = fingerprints.get(reason)
  if (fp === undefined) {
    if (fingerprints.size >= MAX_REMEMBERED) fingerprints.clear()
    fingerprints.set(reason, (fp = fingerprint(reason)))
  }
  return fp
}

function envelopeHit(line: string): { ts: number; fp: string } | undefined {
  try {
    const env = parseEnvelope(line)
    return { ts: env.ts, fp: fingerprintOf(env.reason) }
  } catch {
    return undefined
  }
}

function corruptHit(line: string): { ts: number; fp: string } | undefined {
  const rec = parseCorruptRecord(line)
  return rec && Number.isFinite(rec.ts) ? { ts: rec.ts, fp: fingerprintOf(rec.error) } : undefined
}
