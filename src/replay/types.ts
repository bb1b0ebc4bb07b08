/** Public shapes of the replay engine: handler, summary, progress and outcome events. */
import type { EventEmitter } from 'node:events'
import type { Envelope } from '../format/envelope.js'
import type { Progress, Stopped } from '../format/model.js'
import type { LoggerLike } from '../base/options.js'

export type Handler<T = unknown> = (payload: T, envelope: ReplayEnvelope<T>) => unknown | Promise<unknown>

/** The envelope as given to a handler: the record plus where it was read from. */
export interface ReplayEnvelope<T = unknown> extends Envelope<T> {
  segment: string
  offset: number
}

export interface ReplaySummary {
  /** Items taken from the log (every outcome below counts once), skipped segments' included. */
  handled: number
  /** The handler was called for this many items (in a dry run: would have been). */
  due: number
  delivered: number
  /** Failed and re-logged with attempt + 1 and a due time. */
  requeued: number
  /**
   * Not yet due: carried forward unchanged. Includes the items of segments left in place
   * unread because their metadata shows nothing due (`segmentsSkipped`).
   */
  deferred: number
  /** Moved to the permanent log: attempts exhausted or PermanentError. */
  permanent: number
  /** Moved to the permanent log because older than `ttl`. */
  expired: number
  /** Lines quarantined to the corrupt log. */
  corrupt: number
  /** Segments read (fully or partly). */
  segments: number
  /** Segments left unread: their metadata shows nothing due and nothing expiring yet. */
  segmentsSkipped: number
  /** Segments fully accounted for and removed. */
  segmentsRemoved: number
  /** Uncompressed bytes read. */
  bytes: number
  durationMs: number
  /** 'abort': stopped early by the signal (in-flight items finished, checkpoint written); 'limit': by `limit`. */
  stopped: Stopped
  dryRun: boolean
  /** What recovery of an interrupted requeue or purge did before the run, in words; null when there was none. */
  recovered: string | null
  /** Warnings such as "the live writer did not answer the seal request". */
  warnings: string[]
}

export interface ReplayProgress {
  bytesDone: number
  bytesTotal: number
  items: number
  segment: string
}

/** replay()'s own options: its progress and each item's outcome, as the Replayer's events give them. */
export interface ReplayListeners {
  /** Bytes of the retry segments read so far; at most every 100 ms. */
  onProgress?: (p: Progress) => void
  /** Each item's outcome (delivered, requeued, deferred, permanent, expired, corrupt). */
  onOutcome?: (e: OutcomeEvent) => void
}

export const OUTCOMES = ['delivered', 'requeued', 'deferred', 'permanent', 'expired', 'corrupt'] as const
export type ReplayOutcome = (typeof OUTCOMES)[number]

export interface OutcomeEvent {
  outcome: ReplayOutcome
  segment: string
  offset: number
  envelope?: Envelope
  reason?: string | null
  error?: string
}

/** An event per outcome, named after it, besides progress and warning. */
export type ReplayerEvents = { progress: [ReplayProgress]; warning: [Error] } & { [K in ReplayOutcome]: [OutcomeEvent] }

/** How the active segment gets sealed: by the in-process writer, or by the cross-process dance. */
export interface ReplayContext {
  sealActive?: () => Promise<{ retry: string | null; permanent: string | null }>
  logger?: LoggerLike
  emitter?: EventEmitter
}

export function emptySummary(dryRun: boolean): ReplaySummary {
  return {
    handled: 0,
    due: 0,
    delivered: 0,
    requeued: 0,
    deferred: 0,
    permanent: 0,
    expired: 0,
    corrupt: 0,
    segments: 0,
    segmentsSkipped: 0,
    segmentsRemoved: 0,
    bytes: 0,
    durationMs: 0,
    stopped: null,
    dryRun,
    recovered: null,
    warnings: [],
  }
}
