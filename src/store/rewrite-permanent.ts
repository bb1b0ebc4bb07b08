/**
 * Journaled rewrite of sealed permanent-log segments, shared by requeue (selected entries
 * move to the retry log) and purge (selected entries are dropped).
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
 * A crash before 4 leaves S intact and recovery deletes the temp files (rollback); a crash
 * after 4 leaves complete temp files, and recovery finishes steps 5–6 (roll forward). Either
 * way every entry ends up exactly once in the retry or the permanent log; it is in both only
 * between steps 5 and 6.
 *
 * A dry run is the same walk in count-only mode: no lock, nothing written, the same rules.
 */
import type fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import type { Envelope } from '../format/envelope.js'
import { unlinkIfExists } from '../base/fs-safe.js'
import { type ReadResult, readLines } from '../format/lines.js'
import { regularFile } from './scan.js'
import type { OutputFile } from './outputs.js'
import { type LogPaths, type SegmentInfo, listSegments, removeSegment } from './segments.js'
import type { ByteSink } from '../format/sink.js'
import { publishOutputs } from './commit.js'
import { type RewritePaths, rewritePaths, writeJournal } from './journal.js'
import { sizeText } from './size-text.js'
import { copyLine, tmpOutput } from './temp-output.js'
import { LineDecoder } from '../format/entry.js'
import { type SideLogMark, appendSideLog, markSideLog, truncateSideLog } from './side-log.js'

/** Points where a crash test kills the process (the hook runs synchronously). */
export type RewritePhase = 'journal-moving' | 'item' | 'synced' | 'side-written' | 'committed' | 'renamed' | 'source-deleted'

export interface RewriteHooks {
  phase?: (phase: RewritePhase, info: { source: string; items: number }) => void
}

/** Where an entry was read: its segment (basename without `.gz`) and the line's byte offset there. */
export interface EntryAt {
  source: string
  offset: number
}

/** An append-only file (the audit log) that gets, with each segment's commit, the lines `take` returns for it. */
export interface SideLog {
  /** A basename in the log's directory. */
  file: string
  take: (source: string) => string
}

export interface RewriteOptions {
  paths: LogPaths
  op: 'requeue' | 'purge'
  /** Is this entry selected (to move or to drop)? `line` gives the stored line (decoded on demand). */
  select: (env: Envelope, line: () => string, at: EntryAt) => boolean
  /**
   * Is this entry, not selected, one the operation would have taken but holds back (requeue's
   * loop guard)? It stays where it is, counted in `held`. Asked only of entries not selected.
   */
  held?: (env: Envelope, line: () => string) => boolean
  /** requeue: how a selected entry is written to the retry log (default: the line unchanged). */
  transform?: (sink: ByteSink, env: Envelope, line: string, at: EntryAt) => void
  /** Written and fsynced with each segment's commit, cut back with its rollback (src/store/side-log.ts). */
  sideLog?: SideLog
  /** Select at most this many entries in total. */
  limit?: number
  /** The log's maxRecordSize: a longer line cannot be copied whole, so its segment is skipped. */
  maxRecordSize: number
  signal?: AbortSignal
  hooks?: RewriteHooks
  onProgress?: (done: number, total: number, items: number) => void
  /**
   * A dry run: count what a run would select, writing nothing, over the sealed segments and
   * the active file (which a run seals first; its partial last line is a record being written).
   */
  countOnly?: boolean
}

export interface RewriteResult {
  /** Sealed permanent segments considered. */
  segments: number
  /** Segments rewritten (they held at least one selected entry). */
  rewritten: number
  /** Entries moved (requeue) or removed (purge). */
  selected: number
  /** Entries read and left in the permanent log (segments after the limit was reached are not read). */
  kept: number
  /** Of `kept`, those `held` said were held back. */
  held: number
  /** Segments left unchanged because they could not be rewritten safely. */
  skipped: Array<{ segment: string; reason: string }>
  aborted: boolean
  limited: boolean
}

type Outcome = 'done' | 'aborted' | 'skipped' | 'unchanged'

/** One read of a segment: a look (no outputs: it only counts) or its copy into the temp outputs. */
interface Pass {
  seg: SegmentInfo
  source: string
  retryOut: OutputFile | undefined
  keepOut: OutputFile | undefined
  selected: number
  kept: number
  held: number
  problem: string | undefined
  side: SideLogMark | undefined
}

export function rewritePermanent(o: RewriteOptions): Promise<RewriteResult> {
  return new PermanentRewrite(o).run()
}

class PermanentRewrite {
  private readonly rp: RewritePaths
  private readonly limit: number
  private readonly result: RewriteResult = { segments: 0, rewritten: 0, selected: 0, kept: 0, held: 0, skipped: [], aborted: false, limited: false }
  private total = 0
  private doneBefore = 0
  private items = 0
  private readonly decoder = new LineDecoder()
  /** The text of the line just decoded (the envelope's stored line). */
  private readonly text = () => this.decoder.line

  constructor(private readonly o: RewriteOptions) {
    this.rp = rewritePaths(o.paths)
    this.limit = o.limit ?? Infinity
  }

  private get aborted(): boolean {
    return this.o.signal?.aborted ?? false
  }

  async run(): Promise<RewriteResult> {
    const { result } = this
    const fam = this.o.paths.permanent
    const segments = await listSegments(fam)
    const active = this.o.countOnly ? await regularFile(fam.active) : undefined
    if (active) segments.push({ path: fam.active, key: fam.active, owner: 'writer', seq: 0, gz: false, size: active.size, mtimeMs: active.mtimeMs })
    this.total = segments.reduce((n, s) => n + s.size, 0)
    for (const seg of segments) {
      result.aborted = this.aborted
      if (result.aborted || result.selected >= this.limit) break
      result.segments++
      const outcome = await this.rewriteSegment(seg)
      this.doneBefore += seg.size
      result.aborted = outcome === 'aborted'
      if (result.aborted) break
    }
    result.limited = result.selected >= this.limit && !result.aborted
    return result
  }

  private progress(seg: SegmentInfo, next: number, pass: 0 | 1): void {
    // Each segment is read twice (the check, then the copy): each read is half its share. A count reads once.
    const done = this.o.countOnly ? Math.min(next, seg.size) : (pass * seg.size + Math.min(next, seg.size)) / 2
    this.o.onProgress?.(this.doneBefore + done, this.total, this.items)
  }

  private async rewriteSegment(seg: SegmentInfo): Promise<Outcome> {
    const st = await fsp.stat(seg.path).catch(() => undefined)
    if (!st) return 'unchanged' // removed meanwhile (retention)
    // A read-only look first, stopping at the first selected entry: segments with nothing
    // selected are never rewritten (no write, no fsync, no new mtime). A count is a look that reads on.
    const look = this.pass(seg)
    await this.read(look, () => look.selected > 0 && !this.o.countOnly)
    if (look.selected === 0 || this.o.countOnly) {
      if (this.o.countOnly || !this.aborted) this.add(look)
      return 'unchanged'
    }
    if (this.aborted) return 'aborted'
    const { source } = look
    const side = this.o.sideLog && (await markSideLog(this.o.paths.dir, this.o.sideLog.file))
    await writeJournal(this.o.paths, this.o.op, source, 'moving', side)
    this.o.hooks?.phase?.('journal-moving', { source, items: 0 })
    const mode = st.mode & 0o777
    const retryOut = this.o.op === 'requeue' ? tmpOutput(this.rp.retryTmp, mode) : undefined
    const pass = this.pass(seg, { retryOut, keepOut: tmpOutput(this.rp.permanentTmp, mode), side })
    let outcome: Outcome | undefined
    try {
      outcome = await this.copy(pass)
    } catch (err) {
      await this.rollback(pass)
      throw err
    }
    if (outcome !== undefined) {
      await this.rollback(pass)
      return outcome
    }
    await this.commit(pass, st)
    return 'done'
  }

  private pass(seg: SegmentInfo, outputs?: Pick<Pass, 'retryOut' | 'keepOut' | 'side'>): Pass {
    return { seg, source: path.basename(seg.key), retryOut: undefined, keepOut: undefined, selected: 0, kept: 0, held: 0, problem: undefined, side: undefined, ...outputs }
  }

  /** Reads the segment into `p`; undefined when it is gone (finished by a replay, retention). */
  private async read(p: Pass, stop: () => boolean): Promise<ReadResult | undefined> {
    // In count-only mode, the active file's partial last line is a record being written.
    const writing = p.seg.key === this.o.paths.permanent.active
    const oversized = (length: number) => {
      // A copy has read only its head: rewriting would lose the rest, so the segment stays as is.
      if (p.keepOut) p.problem = `holds a line of ${length} bytes (over the ${sizeText(this.o.maxRecordSize)} line limit)`
      else p.kept++
    }
    try {
      return await readLines(
        p.seg.path,
        p.seg.gz,
        0,
        this.o.maxRecordSize,
        { line: (buf, s, e, offset, next, torn) => (torn && writing ? undefined : this.line(p, buf, s, e, offset, next)), oversized: (_h, _o, _n, length) => oversized(length) },
        () => p.problem !== undefined || this.aborted || stop(),
      )
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  /** Stream the segment into the temp outputs. Undefined when it is ready to commit. */
  private async copy(p: Pass): Promise<Outcome | undefined> {
    const res = await this.read(p, () => false)
    if (res === undefined) return 'unchanged'
    if (this.aborted) return 'aborted'
    if (res.error) p.problem = `could not be read to the end (${res.error.message})`
    if (p.problem !== undefined) {
      this.result.skipped.push({ segment: p.source, reason: p.problem })
      return 'skipped'
    }
    if (p.selected === 0) return 'unchanged'
    await p.retryOut?.close()
    await p.keepOut?.close()
    return undefined
  }

  private line(p: Pass, buf: Buffer, s: number, e: number, offset: number, next: number): void | Promise<void> {
    if (p.keepOut) {
      this.items++
      this.o.hooks?.phase?.('item', { source: p.source, items: this.items })
    }
    this.progress(p.seg, next, p.keepOut ? 1 : 0)
    const bytes = buf.subarray(s, e)
    const env = this.result.selected + p.selected < this.limit ? this.decoder.decode(buf, s, e) : undefined
    const at = { source: p.source, offset }
    if (env !== undefined && this.o.select(env, this.text, at)) {
      p.selected++
      if (!p.retryOut) return
      const transform = this.o.transform
      if (!transform) return p.retryOut.append((sink) => copyLine(sink, bytes))
      const line = bytes.toString('utf8')
      return p.retryOut.append((sink) => transform(sink, env, line, at))
    }
    p.kept++
    if (env !== undefined && this.o.held?.(env, this.text)) p.held++
    // Byte for byte, unparseable lines included: a rewrite never loses what it cannot read.
    return p.keepOut?.append((sink) => copyLine(sink, bytes))
  }

  private async rollback(p: Pass): Promise<void> {
    p.retryOut?.abandon()
    p.keepOut?.abandon()
    await unlinkIfExists(this.rp.retryTmp)
    await unlinkIfExists(this.rp.permanentTmp)
    if (p.side) await truncateSideLog(this.o.paths.dir, p.side)
    await unlinkIfExists(this.rp.journal)
  }

  private async commit(p: Pass, st: fs.Stats): Promise<void> {
    const { rp } = this
    const phase = (name: RewritePhase) => this.o.hooks?.phase?.(name, { source: p.source, items: this.items })
    if (p.keepOut?.records === 0) await unlinkIfExists(rp.permanentTmp)
    else {
      // The kept entries keep their age: retention (maxAge) and replay order go by mtime.
      await fsp.utimes(rp.permanentTmp, st.atime, st.mtime).catch(() => {})
    }
    phase('synced')
    if (this.o.sideLog) {
      try {
        await appendSideLog(this.o.paths.dir, this.o.sideLog.file, this.o.sideLog.take(p.source))
      } catch (err) {
        await this.rollback(p)
        throw err
      }
      phase('side-written')
    }
    await writeJournal(this.o.paths, this.o.op, p.source, 'committed', p.side)
    phase('committed')
    await publishOutputs(this.o.paths, rp)
    phase('renamed')
    await removeSegment(p.seg)
    phase('source-deleted')
    await unlinkIfExists(rp.journal)
    this.result.rewritten++
    this.add(p)
  }

  private add(p: Pass): void {
    this.result.selected += p.selected
    this.result.kept += p.kept
    this.result.held += p.held
  }
}
