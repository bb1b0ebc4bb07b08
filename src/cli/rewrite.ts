/**
 * Journaled rewrite of sealed permanent-log segments, shared by `requeue` (selected entries
 * move to the retry log) and `purge` (selected entries are dropped).
 *
 * Per source segment S, holding the replay lock (so no replay, requeue or purge runs
 * alongside, and we own every replayer-namespace name we create):
 *
 *   1. journal `.orders.log.rewrite` := {source: S, state: moving}     (atomic write)
 *   2. stream S: selected entries → `.orders.log.rewrite-retry.tmp` (requeue) or nowhere
 *      (purge); all others, unparseable lines included, byte for byte →
 *      `.orders.log.rewrite-permanent.tmp`
 *   3. fsync both temp files
 *   4. journal := {source: S, state: committed}
 *   5. rename the temp files to fresh replayer-owned segment names (`orders.rN.log`,
 *      `permanent-orders.rN.log`), fsync the directory
 *   6. delete S, fsync the directory, delete the journal
 *
 * The temp names match no segment pattern, so no replay or stats ever sees an unfinished
 * output. A crash before 4 leaves S intact and recovery deletes the temp files (rollback);
 * a crash after 4 leaves complete temp files, and recovery finishes steps 5–6 (roll
 * forward). Either way every entry ends up exactly once in the retry or the permanent log;
 * it is in both only between steps 5 and 6.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { isUtf8 } from 'node:buffer'
import { readCheckpoint } from '../checkpoint.js'
import { type Envelope, parseEnvelope } from '../envelope.js'
import { ioError } from '../errors.js'
import { CREATE_EXCL_FLAGS, fsyncDir, readSmallFile, unlinkIfExists, writeFileAtomic } from '../fs-safe.js'
import { readLines } from '../lines.js'
import { FileLock } from '../lock.js'
import { replayDefaults } from '../options.js'
import { OutputFile, truncateTornTail } from '../outputs.js'
import { type LogPaths, type SegmentInfo, listSegments, maxSeq, segmentName, statePathOf } from '../segments.js'
import type { ByteSink } from '../sink.js'

export interface RewritePaths {
  journal: string
  retryTmp: string
  permanentTmp: string
  corruptTmp: string
}

export function rewritePaths(paths: LogPaths): RewritePaths {
  return {
    journal: path.join(paths.dir, `.${paths.file}.rewrite`),
    retryTmp: path.join(paths.dir, `.${paths.file}.rewrite-retry.tmp`),
    permanentTmp: path.join(paths.dir, `.${paths.file}.rewrite-permanent.tmp`),
    corruptTmp: path.join(paths.dir, `.${paths.file}.rewrite-corrupt.tmp`),
  }
}

interface Journal {
  v: 1
  op: string
  /** Basename of the source segment without `.gz`. */
  source: string
  state: 'moving' | 'committed'
  at: number
}

/** Points where a crash test kills the process (the hook runs synchronously). */
export type RewritePhase = 'journal-moving' | 'item' | 'synced' | 'committed' | 'renamed' | 'source-deleted'

export interface RewriteHooks {
  phase?: (phase: RewritePhase, info: { source: string; items: number }) => void
}

export interface RewriteOptions {
  paths: LogPaths
  op: 'requeue' | 'purge'
  /** Is this entry selected (to move or to drop)? */
  select: (env: Envelope) => boolean
  /** requeue: how a selected entry is written to the retry log (default: the line unchanged). */
  transform?: (sink: ByteSink, env: Envelope, line: string) => void
  /** Select at most this many entries in total. */
  limit?: number
  signal?: AbortSignal
  hooks?: RewriteHooks
  onProgress?: (done: number, total: number, items: number) => void
}

export interface RewriteResult {
  /** Sealed permanent segments considered. */
  segments: number
  /** Segments rewritten (they held at least one selected entry). */
  rewritten: number
  /** Entries moved (requeue) or removed (purge). */
  selected: number
  /** Entries read and left in the permanent log (segments after --limit was reached are not read). */
  kept: number
  /** Segments left unchanged because they could not be rewritten safely. */
  skipped: Array<{ segment: string; reason: string }>
  aborted: boolean
  limited: boolean
}

/** Run `fn` holding the replay lock (DLQ_REPLAY_LOCKED when another process has it). */
export async function withReplayLock<T>(paths: LogPaths, fn: () => Promise<T>): Promise<T> {
  const lock = await FileLock.acquire(paths.replayLock, 'replay', replayDefaults.mode)
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}

/** The journal of an interrupted rewrite, if any (read-only: for stats). */
export async function pendingRewrite(paths: LogPaths): Promise<{ op: string; source: string; state: string } | null> {
  const raw = await readSmallFile(rewritePaths(paths).journal).catch(() => undefined)
  if (raw === undefined) return null
  try {
    const j = JSON.parse(raw) as Journal
    return { op: String(j.op), source: String(j.source), state: String(j.state) }
  } catch {
    return { op: 'unknown', source: 'unknown', state: 'unreadable' }
  }
}

/**
 * Settle what an interrupted rewrite left behind. Must run under the replay lock, before
 * anything else reads or writes segments. Returns a line for the user, or undefined.
 */
export async function recoverRewrite(paths: LogPaths): Promise<string | undefined> {
  const rp = rewritePaths(paths)
  let raw: string | undefined
  try {
    raw = await readSmallFile(rp.journal)
  } catch (err) {
    throw ioError(`read ${rp.journal}`, err)
  }
  // The corrupt-log rewrite is a single atomic rename; a left-over temp file is never the only copy.
  await unlinkIfExists(rp.corruptTmp)
  if (raw === undefined) {
    // Temp files are renamed before the journal goes, so without a journal they are partial.
    await unlinkIfExists(rp.retryTmp)
    await unlinkIfExists(rp.permanentTmp)
    return undefined
  }
  let j: Journal | undefined
  try {
    const parsed = JSON.parse(raw) as Journal
    if (parsed.v === 1 && typeof parsed.source === 'string' && (parsed.state === 'moving' || parsed.state === 'committed')) j = parsed
  } catch {}
  if (!j || j.state === 'moving' || !paths.permanent.pattern.test(path.basename(j.source))) {
    // Not committed: the source still holds every entry; drop the partial outputs.
    await unlinkIfExists(rp.retryTmp)
    await unlinkIfExists(rp.permanentTmp)
    await fsyncDir(paths.dir)
    await unlinkIfExists(rp.journal)
    return j ? `rolled back an interrupted ${j.op} of ${j.source} (it is unchanged)` : 'removed an unreadable rewrite journal and its partial outputs'
  }
  await publish(paths, rp)
  await removeSource(paths, path.join(paths.dir, path.basename(j.source)))
  await unlinkIfExists(rp.journal)
  return `finished an interrupted ${j.op} of ${j.source}`
}

/**
 * The highest replayer sequence named in any replay checkpoint's output marks. A resumed
 * replay cuts each marked file back to its marked size, by name; a file we create under a
 * name that a stale mark still references (its original since deleted) would be cut too.
 */
async function markedSeqs(paths: LogPaths): Promise<{ retry: number; permanent: number }> {
  const out = { retry: 0, permanent: 0 }
  for (const seg of await listSegments(paths.retry)) {
    const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
    if (cp.status !== 'ok') continue
    for (const m of cp.checkpoint.outputs ?? []) {
      for (const key of ['retry', 'permanent'] as const) {
        const hit = paths[key].pattern.exec(m.file)
        if (hit && hit[1] === 'r') out[key] = Math.max(out[key], Number(hit[2]))
      }
    }
  }
  return out
}

/** Give the complete temp outputs fresh replayer-owned segment names. */
async function publish(paths: LogPaths, rp: RewritePaths): Promise<{ retry?: string; permanent?: string }> {
  const out: { retry?: string; permanent?: string } = {}
  let marked: { retry: number; permanent: number } | undefined
  for (const [tmp, fam, key] of [
    [rp.retryTmp, paths.retry, 'retry'],
    [rp.permanentTmp, paths.permanent, 'permanent'],
  ] as const) {
    if (!fs.existsSync(tmp)) continue
    marked ??= await markedSeqs(paths)
    // Fresh at this moment: we hold the replay lock, and only its holder creates `rN` names.
    const seq = Math.max(await maxSeq(fam, 'replayer'), marked[key]) + 1
    const name = path.join(paths.dir, segmentName(fam, 'replayer', seq))
    try {
      await fsp.rename(tmp, name)
    } catch (err) {
      throw ioError(`rename ${tmp}`, err)
    }
    out[key] = name
  }
  await fsyncDir(paths.dir)
  return out
}

async function removeSource(paths: LogPaths, key: string): Promise<void> {
  for (const f of [key, `${key}.gz`]) {
    try {
      await fsp.unlink(f)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`remove ${f}`, err)
    }
  }
  await fsyncDir(paths.dir)
}

/**
 * A crash while a replayer was appending can leave a partial last line in its own segments;
 * cut it off as replay does (the item behind it was never checkpointed, so it is redone),
 * so a rewrite never copies a torn line into a new segment.
 */
export async function trimOwnSegments(paths: LogPaths): Promise<void> {
  for (const fam of [paths.retry, paths.permanent]) {
    for (const seg of await listSegments(fam)) {
      if (seg.owner !== 'replayer' || seg.gz) continue
      truncateTornTail(seg.path)
      const st = await fsp.stat(seg.path).catch(() => undefined)
      if (st && st.size === 0) await fsp.unlink(seg.path).catch(() => {})
    }
  }
  truncateTornTail(paths.corrupt)
}

function tmpOutput(file: string, mode: number): OutputFile {
  return new OutputFile(async () => {
    try {
      return { file, fd: fs.openSync(file, CREATE_EXCL_FLAGS | fs.constants.O_APPEND, mode) }
    } catch (err) {
      throw ioError(`create ${file}`, err)
    }
  }, path.dirname(file))
}

function parseLine(buf: Buffer, s: number, e: number): Envelope | undefined {
  if (e > s && buf[e - 1] === 0x0d) e--
  const text = buf.subarray(s, e)
  if (!isUtf8(text)) return undefined
  try {
    return parseEnvelope(text.toString('utf8'))
  } catch {
    return undefined
  }
}

function copyLine(sink: ByteSink, bytes: Buffer): void {
  sink.ensure(bytes.length + 1)
  sink.len += bytes.copy(sink.buf, sink.len)
  sink.byte(0x0a)
}

export async function rewritePermanent(o: RewriteOptions): Promise<RewriteResult> {
  const { paths } = o
  const rp = rewritePaths(paths)
  const limit = o.limit ?? Infinity
  const result: RewriteResult = { segments: 0, rewritten: 0, selected: 0, kept: 0, skipped: [], aborted: false, limited: false }
  const segments = await listSegments(paths.permanent)
  const total = segments.reduce((n, s) => n + s.size, 0)
  let doneBefore = 0
  let items = 0

  for (const seg of segments) {
    if (o.signal?.aborted) {
      result.aborted = true
      break
    }
    if (result.selected >= limit) {
      result.limited = true
      break
    }
    result.segments++
    const r = await rewriteSegment(seg)
    doneBefore += seg.size
    if (r === 'aborted') {
      result.aborted = true
      break
    }
  }
  if (result.selected >= limit && !result.aborted) result.limited = true
  return result

  /** True when the segment holds a selected entry; otherwise counts its lines as kept. */
  async function anySelected(seg: SegmentInfo): Promise<boolean> {
    let found = false
    let lines = 0
    try {
      await readLines(
        seg.path,
        seg.gz,
        0,
        replayDefaults.maxRecordSize,
        {
          line: (buf, s, e, _offset, next) => {
            o.onProgress?.(doneBefore + Math.min(next, seg.size) / 2, total, items)
            lines++
            const env = parseLine(buf, s, e)
            if (env !== undefined && o.select(env)) found = true
          },
          oversized: () => {
            lines++
          },
        },
        () => found || (o.signal?.aborted ?? false),
      )
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
    if (!found && !o.signal?.aborted) result.kept += lines
    return found
  }

  async function rewriteSegment(seg: SegmentInfo): Promise<'done' | 'aborted' | 'skipped' | 'unchanged'> {
    const source = path.basename(seg.key)
    const st = await fsp.stat(seg.path).catch(() => undefined)
    if (!st) return 'unchanged' // removed meanwhile (retention)
    const mode = st.mode & 0o777
    // A read-only pass first, stopping at the first selected entry: segments with nothing
    // selected are never rewritten (no write, no fsync, no new mtime).
    if (!(await anySelected(seg))) return 'unchanged'
    if (o.signal?.aborted) return 'aborted'
    const journal = (state: Journal['state']) =>
      writeFileAtomic(rp.journal, JSON.stringify({ v: 1, op: o.op, source, state, at: Date.now() } satisfies Journal) + '\n', 0o600)

    await journal('moving')
    o.hooks?.phase?.('journal-moving', { source, items: 0 })
    const retryOut = o.op === 'requeue' ? tmpOutput(rp.retryTmp, mode) : undefined
    const keepOut = tmpOutput(rp.permanentTmp, mode)
    let selected = 0
    let kept = 0
    let problem: string | undefined

    const rollback = async () => {
      retryOut?.abandon()
      keepOut.abandon()
      await unlinkIfExists(rp.retryTmp)
      await unlinkIfExists(rp.permanentTmp)
      await unlinkIfExists(rp.journal)
    }

    let res
    try {
      res = await readLines(
        seg.path,
        seg.gz,
        0,
        replayDefaults.maxRecordSize,
        {
          line: (buf, s, e, _offset, next, _torn) => {
            items++
            o.hooks?.phase?.('item', { source, items })
            o.onProgress?.(doneBefore + (seg.size + Math.min(next, seg.size)) / 2, total, items)
            const bytes = buf.subarray(s, e)
            const env = result.selected + selected < limit ? parseLine(buf, s, e) : undefined
            if (env !== undefined && o.select(env)) {
              selected++
              if (retryOut) {
                const line = bytes.toString('utf8')
                return retryOut.append((sink) => (o.transform ? o.transform(sink, env, line) : copyLine(sink, bytes)))
              }
              return
            }
            kept++
            // Byte for byte, unparseable lines included: a rewrite never loses what it cannot read.
            return keepOut.append((sink) => copyLine(sink, bytes))
          },
          oversized: (_head, _offset, _next, length) => {
            // Only its head was read; rewriting would lose the rest, so the segment stays as is.
            problem = `holds a line of ${length} bytes (over the 16 MiB line limit)`
          },
        },
        () => problem !== undefined || (o.signal?.aborted ?? false),
      )
    } catch (err) {
      await rollback()
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'unchanged'
      throw err
    }
    if (o.signal?.aborted) {
      await rollback()
      return 'aborted'
    }
    if (res.error) problem = `could not be read to the end (${res.error.message})`
    if (problem !== undefined) {
      await rollback()
      result.skipped.push({ segment: source, reason: problem })
      return 'skipped'
    }
    if (selected === 0) {
      await rollback()
      return 'unchanged'
    }
    try {
      await retryOut?.close()
      await keepOut.close()
    } catch (err) {
      await rollback()
      throw err
    }
    if (keepOut.records === 0) await unlinkIfExists(rp.permanentTmp)
    else {
      // The kept entries keep their age: retention (maxAge) and replay order go by mtime.
      await fsp.utimes(rp.permanentTmp, st.atime, st.mtime).catch(() => {})
    }
    o.hooks?.phase?.('synced', { source, items })
    await journal('committed')
    o.hooks?.phase?.('committed', { source, items })
    await publish(paths, rp)
    o.hooks?.phase?.('renamed', { source, items })
    await removeSource(paths, seg.key)
    o.hooks?.phase?.('source-deleted', { source, items })
    await unlinkIfExists(rp.journal)
    result.rewritten++
    result.selected += selected
    result.kept += kept
    return 'done'
  }
}

/**
 * purge --corrupt: the quarantine is one file appended only by the replay-lock holder (us,
 * now), so it is rewritten whole: kept records to a temp file, fsync, atomic rename over it.
 */
export async function rewriteCorrupt(
  paths: LogPaths,
  select: (rec: { ts: number; reason: string | null }) => boolean,
  limit: number | undefined,
): Promise<{ selected: number; kept: number }> {
  const rp = rewritePaths(paths)
  const st = await fsp.lstat(paths.corrupt).catch(() => undefined)
  if (!st || !st.isFile()) return { selected: 0, kept: 0 }
  const out = tmpOutput(rp.corruptTmp, st.mode & 0o777)
  let selected = 0
  let kept = 0
  let problem: string | undefined
  const max = limit ?? Infinity
  try {
    const res = await readLines(
      paths.corrupt,
      false,
      0,
      replayDefaults.maxRecordSize,
      {
        line: (buf, s, e) => {
          const bytes = buf.subarray(s, e)
          if (selected < max) {
            let rec: { ts?: unknown; error?: unknown } | undefined
            try {
              rec = JSON.parse(bytes.toString('utf8')) as { ts?: unknown; error?: unknown }
            } catch {}
            if (rec && typeof rec === 'object' && select({ ts: Number(rec.ts), reason: typeof rec.error === 'string' ? rec.error : null })) {
              selected++
              return
            }
          }
          kept++
          return out.append((sink) => copyLine(sink, bytes))
        },
        oversized: (_h, _o, _n, length) => {
          problem = `holds a line of ${length} bytes`
        },
      },
      () => problem !== undefined,
    )
    if (res.error) problem = res.error.message
    if (problem !== undefined || selected === 0) {
      out.abandon()
      await unlinkIfExists(rp.corruptTmp)
      if (problem !== undefined) throw ioError(`rewrite ${paths.corrupt}`, new Error(`it ${problem}; left unchanged`))
      return { selected: 0, kept }
    }
    await out.close()
    if (out.records === 0) {
      await unlinkIfExists(paths.corrupt)
    } else {
      await fsp.rename(rp.corruptTmp, paths.corrupt)
    }
    await fsyncDir(paths.dir)
  } catch (err) {
    out.abandon()
    await unlinkIfExists(rp.corruptTmp).catch(() => {})
    throw ioError(`rewrite ${paths.corrupt}`, err)
  }
  return { selected, kept }
}

