/**
 * The audit trail of a local log: `<log file>.audit.jsonl` next to it (`orders.log.audit.jsonl`),
 * one JSON line per entry a requeue, repair or purge changed (src/format/edit.ts, AuditRecord).
 * Written through the rewrite's side log (src/store/side-log.ts): each segment's records are
 * appended and fsynced before its rewrite commits and cut back if it rolls back, so the file
 * names exactly the entries that moved or went.
 *
 * `ChangeTracker` is what requeue and purge hand the rewrite: it selects (the filter, then the
 * transform's verdict), writes a repaired entry, and keeps per segment what its copy decided
 * until the segment commits. The rewrite reads a segment twice (a look, then the copy) and
 * may roll one back, so decisions are keyed by where the entry is and settled only by a
 * commit (moved) or at the end (stayed).
 */
import type { EditOf, Envelope } from '../format/envelope.js'
import { rawPayloadOf } from '../format/envelope.js'
import { envelopeEntry } from '../format/entry.js'
import { type AuditRun, type EditOutcome, type LoadedTransform, TransformTally, applyTransform, auditRecord } from '../format/edit.js'
import type { EntryLocation } from '../format/envelope.js'
import { ByteSink } from '../format/sink.js'
import { sizeText } from '../store/size-text.js'
import type { LogPaths } from '../store/segments.js'
import type { EntryAt, SideLog } from '../store/rewrite-permanent.js'
import { openSideLog } from '../store/side-log.js'
import { type ResolvedFilter, envelopeFields } from './filters.js'

export function auditFileOf(paths: LogPaths): string {
  return `${paths.file}.audit.jsonl`
}

/** Fails (DLQ_IO) when the audit log cannot be written: checked before anything moves. */
export function openAudit(paths: LogPaths): Promise<void> {
  return openSideLog(paths.dir, auditFileOf(paths))
}

export function locationOf(at: EntryAt): EntryLocation {
  return { ref: `permanent/${at.source}/${at.offset}`, file: at.source, offset: at.offset }
}

/** How a repaired entry is written: the original's header (as a requeue writes it) with a new payload and `editOf`. */
export type EditWriter = (sink: ByteSink, env: Envelope, line: string, edit: { payload: string; editOf: EditOf }) => void

interface Decision {
  outcome: EditOutcome | undefined
  id: string | undefined
  location: EntryLocation
  audit: string | undefined
}

export class ChangeTracker {
  readonly tally: TransformTally | undefined
  /** Audit records written (segments committed). */
  records = 0
  private readonly bySource = new Map<string, Map<number, Decision>>()
  private prepared: { source: string; offset: number; bytes: Buffer } | undefined
  private readonly sink = new ByteSink(4096)

  constructor(
    readonly run: AuditRun,
    /** The change's filter and record limit; a dry run decides (a transform's outcomes go to the tally at once, with previews) and keeps nothing. */
    private readonly o: { filter: ResolvedFilter; maxRecordSize: number; dryRun: boolean },
    private readonly transform?: { t: LoadedTransform; write: EditWriter },
  ) {
    this.tally = transform && new TransformTally(transform.t.source)
  }

  /** A segment's copy begins: what its look decided is superseded. */
  begin(source: string): void {
    this.bySource.delete(source)
  }

  select(env: Envelope, line: () => string, at: EntryAt): boolean {
    if (!this.o.filter.match(envelopeFields(env, line))) return false
    if (this.o.dryRun && !this.transform) return true
    const location = locationOf(at)
    const text = line()
    const before = rawPayloadOf(text, env)
    const d: Decision = { outcome: undefined, id: env.id, location, audit: undefined }
    if (!this.o.dryRun) this.bySource.set(at.source, (this.bySource.get(at.source) ?? new Map<number, Decision>()).set(at.offset, d))
    if (!this.transform) {
      d.audit = JSON.stringify(auditRecord(this.run, Date.now(), env.id, location, before)) + '\n'
      return true
    }
    const entry = envelopeEntry('permanent', { ref: location.ref, file: at.source, offset: at.offset, line: text }, env)
    let outcome = applyTransform(this.transform.t, before, entry)
    if (outcome.kind === 'changed') {
      this.sink.reset()
      const editOf: EditOf = env.id === undefined ? { location } : { id: env.id, location }
      this.transform.write(this.sink, env, text, { payload: outcome.text, editOf })
      // The line without its newline is what a replay's line limit measures.
      if (this.sink.len - 1 > this.o.maxRecordSize) {
        outcome = { kind: 'failed', reason: `the repaired record would be ${this.sink.len - 1} bytes, over maxRecordSize (${sizeText(this.o.maxRecordSize)})` }
      } else {
        this.prepared = { source: at.source, offset: at.offset, bytes: Buffer.from(this.sink.buf.subarray(0, this.sink.len)) }
        d.audit = JSON.stringify(auditRecord(this.run, Date.now(), env.id, location, before, outcome)) + '\n'
      }
    }
    d.outcome = outcome
    if (this.o.dryRun) this.tally!.add(outcome, location, env.id, true)
    return outcome.kind === 'changed'
  }

  /** Write the repaired entry `select` just prepared (the rewrite writes a selected entry right after selecting it). */
  write(sink: ByteSink, at: EntryAt): void {
    const p = this.prepared
    if (!p || p.source !== at.source || p.offset !== at.offset) throw new Error(`dlq: internal: no repaired record prepared for ${at.source}:${at.offset}`)
    this.prepared = undefined
    sink.ensure(p.bytes.length)
    sink.len += p.bytes.copy(sink.buf, sink.len)
  }

  /** The side log for the rewrite: a committing segment's audit records (and its settled decisions). */
  sideLog(file: string): SideLog {
    return {
      file,
      take: (source) => {
        const segment = this.bySource.get(source)
        this.bySource.delete(source)
        if (!segment) return ''
        let out = ''
        for (const d of segment.values()) {
          if (d.audit !== undefined) {
            out += d.audit
            this.records++
          }
          if (d.outcome) this.tally!.add(d.outcome, d.location, d.id, false)
        }
        return out
      },
    }
  }

  /** The entries of segments that did not commit stayed: count what the transform made of them. */
  finish(): void {
    for (const segment of this.bySource.values()) {
      for (const d of segment.values()) if (d.outcome && d.outcome.kind !== 'changed') this.tally!.add(d.outcome, d.location, d.id, false)
    }
    this.bySource.clear()
  }
}
