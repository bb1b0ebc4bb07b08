/**
 * Where replay writes: re-logged and carried-forward items go to replayer-owned retry
 * segments, one per due-time tier, so that items deferred for hours never share a segment
 * with items due in a minute (a later run skips a segment whose metadata shows nothing due,
 * see run.ts); moved items go to a permanent segment; unreadable lines to the quarantine.
 *
 * Each method takes one record object. Files are created lazily, on their first flush; the
 * `onNewFile` hook runs before a byte reaches a new file so a checkpoint names it first.
 * Every retry and permanent segment this run seals gets its SegmentMeta sidecar.
 */
import fs from 'node:fs'
import path from 'node:path'
import { isUtf8 } from 'node:buffer'
import { type Checkpoint, type OutputMark } from '../store/checkpoint.js'
import type { EnvelopeHeader } from '../format/envelope.js'
import { writeRecord } from '../format/fit.js'
import { OutputFile } from '../store/outputs.js'
import type { LogPaths } from '../store/segments.js'
import type { ByteSink } from '../format/sink.js'
import { SegmentMetaBuilder, writeSegmentMeta } from '../store/counts/segment-meta.js'

/** A failed item written again with attempt + 1 and its next due time (`header.dueTs`). */
export interface RelogRecord extends PermanentRecord {
  header: EnvelopeHeader & { dueTs: number }
}

/** A not-yet-due item, copied byte for byte: `buf[start..end)` is its line without the newline. */
export interface CarryRecord {
  buf: Buffer
  start: number
  end: number
  firstTs: number
  dueTs: number
  /** Kept in the segment's metadata: a segment holding an exhausted item is never skipped. */
  attempt: number
}

/** An item moved to the permanent log (`header.final` says why). */
export interface PermanentRecord {
  header: EnvelopeHeader
  id: string | undefined
  rawPayload: string
}

/** A line that could not be taken as an envelope. */
export interface CorruptRecord {
  segment: string
  offset: number
  /** Its bytes (at most the first RAW_CAP are kept in the record). */
  raw: Buffer
  length: number
  error: string
  truncated: boolean
  /** Where the complete bytes of an over-limit line were kept. */
  rawFile?: string
  ts: number
}

const RAW_CAP = 64 * 1024
const MINUTE = 60_000
/** Due-time tiers, from the run's start: ≤ 1 min, ≤ 4 min, ≤ 16 min, … (×4), and beyond. */
const TIERS = 7

export function tierOf(dueTs: number, runStart: number): number {
  const d = dueTs - runStart
  if (d <= MINUTE) return 0
  return Math.min(TIERS - 1, Math.ceil(Math.log2(d / MINUTE) / 2))
}

/** An output segment plus the metadata of what went into it. */
class MetaOutput {
  readonly meta = new SegmentMetaBuilder()
  constructor(readonly out: OutputFile) {}

  /** Appends one line and records it; the length is taken before anything else can append. */
  append(write: (sink: ByteSink) => void, firstTs: number, dueTs: number | undefined, attempt: number): void | Promise<void> {
    const at = this.out.position()
    const r = this.out.append(write)
    this.meta.add(at, this.out.position() - at, firstTs, dueTs, attempt)
    return r
  }
}

export class ReplayOutputs {
  private readonly tiers: Array<MetaOutput | undefined> = new Array(TIERS)
  private perm: MetaOutput | undefined
  private readonly corrupt: OutputFile
  /** Every file in creation order (what checkpoints name). */
  private readonly all: OutputFile[] = []

  constructor(
    private readonly paths: LogPaths,
    private readonly mode: number,
    private readonly runStart: number,
    private readonly onNewFile: (file: string, size: number) => void | Promise<void>,
    /** The line limit replay reads with: a re-log or a move whose lineage grew is shrunk to it (src/format/fit.ts). */
    private readonly maxRecordSize: number,
  ) {
    this.corrupt = this.track(OutputFile.shared(paths.corrupt, mode))
  }

  relog(rec: RelogRecord): void | Promise<void> {
    const h = rec.header
    return this.tier(h.dueTs).append((sink) => writeRecord(sink, h, rec.id, rec.rawPayload, this.maxRecordSize), h.firstTs ?? h.ts, h.dueTs, h.attempt)
  }

  carry(rec: CarryRecord): void | Promise<void> {
    return this.tier(rec.dueTs).append(
      (sink) => {
        sink.ensure(rec.end - rec.start + 1)
        sink.len += rec.buf.copy(sink.buf, sink.len, rec.start, rec.end)
        sink.byte(0x0a)
      },
      rec.firstTs,
      rec.dueTs,
      rec.attempt,
    )
  }

  permanent(rec: PermanentRecord): void | Promise<void> {
    const p = (this.perm ??= new MetaOutput(this.track(OutputFile.segment(this.paths.permanent, this.mode))))
    const h = rec.header
    return p.append((sink) => writeRecord(sink, h, rec.id, rec.rawPayload, this.maxRecordSize), h.firstTs ?? h.ts, undefined, h.attempt)
  }

  quarantine(rec: CorruptRecord): void | Promise<void> {
    const capped = rec.raw.subarray(0, RAW_CAP)
    const utf8 = isUtf8(capped)
    const line = JSON.stringify({
      ts: rec.ts,
      segment: rec.segment,
      offset: rec.offset,
      length: rec.length,
      error: rec.error,
      rawEncoding: utf8 ? 'utf8' : 'base64',
      raw: utf8 ? capped.toString('utf8') : capped.toString('base64'),
      rawTruncated: rec.truncated || rec.raw.length > RAW_CAP,
      ...(rec.rawFile ? { rawFile: rec.rawFile } : {}),
    })
    return this.corrupt.append((sink) => {
      sink.utf8(line)
      sink.byte(0x0a)
    })
  }

  /** Something written since the last sync() (a checkpoint must sync first). */
  needsSync(): boolean {
    for (const f of this.all) if (f.needsSync()) return true
    return false
  }

  async sync(): Promise<void> {
    await Promise.all(this.all.map((f) => f.sync()))
  }

  /** Names and durable sizes of every file created so far, for a checkpoint. */
  marks(): OutputMark[] {
    const out: OutputMark[] = []
    for (const f of this.all) {
      const m = f.mark()
      if (m) out.push(m)
    }
    return out
  }

  /** Sync and close everything; write the metadata of each segment we sealed. */
  async close(): Promise<void> {
    await Promise.all(this.all.map((f) => f.close()))
    for (const f of this.all) f.removeIfEmpty()
    for (const m of [...this.tiers, this.perm]) {
      if (!m?.out.file || m.meta.itemCount === 0) continue
      const st = fs.statSync(m.out.file, { throwIfNoEntry: false })
      if (st) await writeSegmentMeta(m.out.file, m.meta.finish(st), this.mode)
    }
  }

  abandon(): void {
    for (const f of this.all) f.abandon()
  }

  private tier(dueTs: number): MetaOutput {
    const k = tierOf(dueTs, this.runStart)
    return (this.tiers[k] ??= new MetaOutput(this.track(OutputFile.segment(this.paths.retry, this.mode))))
  }

  private track(f: OutputFile): OutputFile {
    f.onOpen = this.onNewFile
    this.all.push(f)
    return f
  }
}

/** The state of a checkpoint plus one output file just opened, at the size it had then. */
export function withNewFile(cp: Checkpoint, file: string, size: number): Checkpoint {
  return { ...cp, outputs: [...(cp.outputs ?? []), { file: path.basename(file), size }] }
}
