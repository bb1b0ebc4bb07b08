/**
 * Where replay reports: the summary counts, outcome/progress/warning events (to the Replayer
 * and, for Logger.replay, to the logger's emitter: one fan-out, here) and the injected logger.
 * No event object is built when nobody listens.
 */
import type { EventEmitter } from 'node:events'
import path from 'node:path'
import { ListenerGuard } from '../base/listener-guard.js'
import type { Envelope } from '../format/envelope.js'
import type { LoggerLike } from '../base/options.js'
import type { SegmentInfo } from '../store/segments.js'
import type { OutcomeEvent, ReplayOutcome, ReplayProgress, ReplaySummary } from './types.js'

export class Reporter {
  bytesTotal = 0
  bytesBefore = 0
  /** Items of skipped segments, counted in `handled` but not taken (so not against `limit`). */
  left = 0
  private lastProgress = 0

  constructor(
    readonly summary: ReplaySummary,
    private readonly own: EventEmitter,
    private readonly extra: EventEmitter | undefined,
    private readonly logger: LoggerLike | undefined,
  ) {}

  /** Listener failures become warnings of the run (never its failure: see ListenerGuard)… */
  private readonly guard = new ListenerGuard((message) => this.warn(message))
  /** …and those of 'warning' listeners are only recorded, or they would report themselves forever. */
  private readonly warningGuard = new ListenerGuard((message) => this.record(message))

  close(): void {
    this.guard.flush()
    this.warningGuard.flush()
    for (const e of [this.own, this.extra]) {
      e?.off('newListener', this.forget)
      e?.off('removeListener', this.forget)
    }
    this.heard = undefined
  }

  listens(event: string): boolean {
    return this.own.listenerCount(event) > 0 || (this.extra !== undefined && this.extra.listenerCount(event) > 0)
  }

  /** Per outcome: does anyone listen? Recomputed whenever a listener comes or goes. */
  private heard: Record<string, boolean> | undefined

  private readonly forget = (): void => {
    this.heard = undefined
  }

  /** From the start of a run to its end (close()): the emitters may outlive the run. */
  watch(): void {
    for (const e of [this.own, this.extra]) {
      e?.on('newListener', this.forget)
      e?.on('removeListener', this.forget)
    }
  }

  outcome(outcome: ReplayOutcome, segment: string, offset: number, envelope?: Envelope, reason?: string | null, error?: string): void {
    // Most items: one property read, no calls into the emitters.
    const heard = (this.heard ??= {})
    const yes = (heard[outcome] ??= this.listens(outcome))
    if (!yes) return
    const ev: OutcomeEvent = { outcome, segment, offset }
    if (envelope) ev.envelope = envelope
    if (reason !== undefined) ev.reason = reason
    if (error !== undefined) ev.error = error
    this.emit(outcome, ev)
  }

  /** At most every 100 ms; the caller reads the clock only every few items. */
  progress(seg: SegmentInfo, doneInSeg: number, now: number): void {
    if (now - this.lastProgress < 100) return
    this.lastProgress = now
    this.progressNow(seg, doneInSeg)
  }

  progressNow(seg: SegmentInfo, doneInSeg: number): void {
    if (!this.listens('progress')) return
    const p: ReplayProgress = {
      bytesDone: this.bytesBefore + Math.min(doneInSeg, seg.size),
      bytesTotal: this.bytesTotal,
      items: this.summary.handled,
      segment: path.basename(seg.path),
    }
    this.emit('progress', p)
  }

  warn(message: string): void {
    this.record(message)
    const err = new Error(`dlq: ${message}`)
    this.warningGuard.emit(this.own, 'warning', err)
    if (this.extra) this.warningGuard.emit(this.extra, 'warning', err)
  }

  info(obj: object, message: string): void {
    this.log('info', obj, message)
  }

  private record(message: string): void {
    this.summary.warnings.push(message)
    this.log('warn', {}, `dlq: ${message}`)
  }

  /** The injected logger is application code as well: what it throws must not stop the run. */
  private log(level: 'info' | 'warn', obj: object, message: string): void {
    try {
      this.logger?.[level](obj, message)
    } catch {}
  }

  private emit(event: string, value: unknown): void {
    this.guard.emit(this.own, event, value)
    if (this.extra) this.guard.emit(this.extra, event, value)
  }
}
