/**
 * The Logger's public event and option types. They live apart from logger.ts because the
 * Logger's parts (diagnostics, retention) name them too, and a type import is still an edge:
 * kept in logger.ts they made an import cycle.
 */
import type { ReplayOptions } from '../base/options.js'
import type { Kind } from '../format/model.js'
import type { ReplayerEvents, ReplaySummary } from '../replay/index.js'

/** The kinds a writer appends to (corrupt records are the replayer's). */
export type LogKind = Exclude<Kind, 'corrupt'>

export interface RotatedEvent {
  kind: LogKind
  path: string
}

export interface EvictedEvent {
  kind: LogKind
  /** Why: 'drop-oldest' (retry cap), 'maxBackups' or 'maxAge' (permanent retention). */
  policy: 'drop-oldest' | 'maxBackups' | 'maxAge'
  files: string[]
  records: number
  bytes: number
}

export interface StartReplayerOptions extends ReplayOptions {
  /** Time between runs (ms or duration string). Default 30 s. */
  interval?: number | string
  /** Called with each run's summary. */
  onRun?: (summary: ReplaySummary) => void
}

/** Logger events; during dlq.replay() / startReplayer() the replay events are emitted here too. */
export interface LoggerEvents extends ReplayerEvents {
  rotated: [RotatedEvent]
  evicted: [EvictedEvent]
  error: [Error]
}
