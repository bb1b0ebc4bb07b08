// The public API. Internals (option defaults, segment naming, the envelope parser, the
// replay engine's class) are not exported: they change without a major version.
export { Logger } from './write/logger.js'
export type { LogOptions } from './write/logger.js'
export type { RotatedEvent, EvictedEvent, StartReplayerOptions, LoggerEvents } from './write/events.js'
export { replay } from './replay/index.js'
export type { Handler, ReplayEnvelope, ReplayListeners, ReplaySummary, ReplayProgress, ReplayOutcome, OutcomeEvent, ReplayerEvents } from './replay/index.js'
export { DeadLetterError, PermanentError } from './base/errors.js'
export type { DeadLetterErrorCode } from './base/errors.js'
export { RawPayload } from './format/serialize.js'
export type { Loggable, JsonOut } from './format/serialize.js'
export type { Envelope, FinalReason, EditOf, EntryLocation } from './format/envelope.js'
export type { AuditRecord, ReadAuditOptions } from './format/edit.js'
export type { LoggerOptions, ReplayOptions, Durability, FullPolicy, LoggerLike } from './base/options.js'
export { stats } from './admin/stats.js'
export { inspect } from './admin/inspect.js'
export { readEntry } from './admin/read-entry.js'
export { readAudit } from './admin/read-audit.js'
export { requeue } from './admin/requeue.js'
export { purge } from './admin/purge.js'
export { logBackend } from './admin/backend.js'
export { checkLogPath } from './store/log-path.js'
export { fingerprint } from './format/fingerprint.js'
export { failureSeries } from './admin/failure-series.js'
export type { FailureSeriesReader } from './admin/failure-series.js'
export type { FailureSeries, FailureSeriesOptions, SeriesGroup, SeriesKind, SeriesRange } from './format/series.js'
export type {
  Transform,
  TransformSummary,
  AuditSummary,
  JsonPatchOp,
  Kind,
  Stopped,
  TimeInput,
  EntryFilter,
  Progress,
  OperationOptions,
  LocalOptions,
  CentralOptions,
  StatsOptions,
  Stats,
  KindStats,
  RetryStats,
  PermanentStats,
  HostStats,
  ReasonGroup,
  LocalStatsBackend,
  CentralStatsBackend,
  InspectOptions,
  Entry,
  InspectSummary,
  InspectIterable,
  RequeueOptions,
  PurgeOptions,
  ChangeResult,
  RequeueResult,
  PurgeResult,
  LocalChangeBackend,
  CentralChangeBackend,
  Backend,
} from './format/model.js'
