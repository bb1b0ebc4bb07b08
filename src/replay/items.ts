/**
 * One line of a segment, start to finish: decode and validate it (or quarantine it), classify
 * it, and carry out the verdict: move, carry forward, or deliver and then settle the result
 * (delivered, re-logged with backoff, or moved to the permanent log).
 */
import { type Envelope, type EnvelopeHeader, type FinalReason, type ReasonParts, describeReason, rawPayloadOf } from '../format/envelope.js'
import { describeStack } from '../base/reason.js'
import { LineDecoder } from '../format/entry.js'
import type { ResolvedReplayOptions } from '../base/options.js'
import { afterFailure, classify } from '../format/outcome.js'
import { copyTrace } from '../base/trace-context.js'
import { afterAttempt, copyLineage } from '../format/lineage.js'
import { type Deliverer, Failed } from './deliver.js'
import type { ReplayOutputs } from './outputs.js'
import type { Reporter } from './report.js'
import type { ReplayEnvelope, ReplaySummary } from './types.js'

/** Where an item was read from. */
interface At {
  segment: string
  offset: number
}

export class ItemProcessor {
  private readonly summary: ReplaySummary
  private readonly decoder = new LineDecoder()

  constructor(
    private readonly o: ResolvedReplayOptions,
    private readonly report: Reporter,
    /** Undefined in a dry run: nothing is written. */
    private readonly outputs: ReplayOutputs | undefined,
    private readonly deliverer: Deliverer,
  ) {
    this.summary = report.summary
  }

  /** `buf[s..e)` is the line without its newline; `torn`: bytes after the last newline. */
  line(buf: Buffer, s: number, e: number, segment: string, offset: number, torn: boolean): void | Promise<void> {
    const d = this.decoder
    const env = d.decode(buf, s, e, torn)
    if (env === undefined) return this.corrupt({ segment, offset }, buf.subarray(s, d.end), d.end - s, d.error!)
    // A trailing CR (hand-edited files) is not part of the line carried forward.
    e = d.end
    const line = d.line
    switch (classify(env, this.o, this.o.now)) {
      case 'expired':
        this.summary.expired++
        return this.toPermanent(line, env, { segment, offset }, env.attempt, 'expired', undefined)
      case 'exhausted':
        this.summary.permanent++
        return this.toPermanent(line, env, { segment, offset }, env.attempt, 'exhausted', undefined)
      case 'deferred':
        this.summary.deferred++
        this.report.outcome('deferred', segment, offset, env)
        return this.outputs?.carry({ buf, start: s, end: e, firstTs: env.firstTs ?? env.ts, dueTs: env.dueTs!, attempt: env.attempt })
      default:
        this.summary.due++
        if (this.outputs === undefined) return
        return this.deliver(line, env, segment, offset)
    }
  }

  /** A line over maxRecordSize: `head` is its start, its whole bytes went to `rawFile`. */
  oversized(head: Buffer, segment: string, offset: number, length: number, rawFile: string | undefined): void | Promise<void> {
    const why = `record of ${length} bytes exceeds maxRecordSize (${this.o.maxRecordSize}); complete line kept in ${rawFile}`
    return this.corrupt({ segment, offset }, head, length, why, true, rawFile)
  }

  /** The unreadable rest of a damaged compressed segment, as one quarantined item. */
  damaged(segment: string, offset: number, error: string): void | Promise<void> {
    return this.corrupt({ segment, offset }, Buffer.alloc(0), 0, error)
  }

  private deliver(line: string, env: Envelope, segment: string, offset: number): void | Promise<void> {
    const renv = env as ReplayEnvelope
    renv.segment = segment
    renv.offset = offset
    const r = this.deliverer.deliver(renv)
    if (r === undefined || r instanceof Failed) return this.settle(r, line, env, segment, offset)
    return r.then((failed) => this.settle(failed, line, env, segment, offset))
  }

  private settle(failed: Failed | undefined, line: string, env: Envelope, segment: string, offset: number): void | Promise<void> {
    if (failed === undefined) {
      // The envelope keeps `segment` and `offset` (a delivered event shows a ReplayEnvelope):
      // taking them off again costs more than the rest of a delivered item's bookkeeping.
      this.summary.delivered++
      this.report.outcome('delivered', segment, offset, env)
      return
    }
    // Written again below: its last key must be the payload again (rawPayloadOf splices it).
    // Newest property first: V8 then just rolls the object's shape back.
    delete (env as Partial<ReplayEnvelope>).offset
    delete (env as Partial<ReplayEnvelope>).segment
    const reason = describeReason(failed.error)
    const next = afterFailure(env.attempt, failed.error, this.o)
    if (next.kind === 'permanent') {
      this.summary.permanent++
      return this.toPermanent(line, env, { segment, offset }, next.attempt, next.final, reason, this.stackOf(failed.error))
    }
    const now = this.o.now()
    const header: EnvelopeHeader & { dueTs: number } = {
      ts: now,
      attempt: next.attempt,
      reason: reason.text,
      firstTs: env.firstTs ?? env.ts,
      dueTs: now + next.delay,
      ...(reason.errorName !== undefined ? { errorName: reason.errorName } : {}),
      ...(reason.errorCode !== undefined ? { errorCode: reason.errorCode } : {}),
    }
    afterAttempt(header, env, this.stackOf(failed.error))
    copyTrace(header, env)
    this.summary.requeued++
    this.report.outcome('requeued', segment, offset, env, reason.text)
    return this.outputs!.relog({ header, id: env.id, rawPayload: rawPayloadOf(line, env) })
  }

  /** `reason`: the failure that just happened; without it the envelope's own is kept. */
  private toPermanent(line: string, env: Envelope, at: At, attempt: number, final: FinalReason, reason: ReasonParts | undefined, stack?: string): void | Promise<void> {
    const reasonText = reason ? reason.text : env.reason
    this.report.outcome(final === 'expired' ? 'expired' : 'permanent', at.segment, at.offset, env, reasonText)
    if (this.outputs === undefined) return
    const header: EnvelopeHeader = { ts: this.o.now(), attempt, reason: reasonText, firstTs: env.firstTs ?? env.ts, final }
    const errorName = reason ? reason.errorName : env.errorName
    const errorCode = reason ? reason.errorCode : env.errorCode
    if (errorName !== undefined) header.errorName = errorName
    if (errorCode !== undefined) header.errorCode = errorCode
    // A failure that just happened is an attempt of its own; an entry moved before its
    // handler ran (expired, exhausted) keeps its lineage as it was.
    if (reason) afterAttempt(header, env, stack)
    else copyLineage(header, env)
    copyTrace(header, env)
    return this.outputs.permanent({ header, id: env.id, rawPayload: rawPayloadOf(line, env) })
  }

  /** The stack of what the handler threw, when kept (`keepStack`). */
  private stackOf(error: unknown): string | undefined {
    return this.o.keepStack ? describeStack(error, this.o.maxStackBytes) : undefined
  }

  private corrupt(at: At, raw: Buffer, length: number, error: string, truncated = false, rawFile?: string): void | Promise<void> {
    this.summary.corrupt++
    this.report.outcome('corrupt', at.segment, at.offset, undefined, undefined, error)
    return this.outputs?.quarantine({ ...at, raw, length, error, truncated, rawFile, ts: this.o.now() })
  }
}
