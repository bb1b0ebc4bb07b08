// The public API. Internals (option defaults, segment naming, the envelope parser, the
// replay engine's class) are not exported: they change without a major version.
export { Logger } from './logger.js'
export type { LogOptions, LogKind, RotatedEvent, EvictedEvent, StartReplayerOptions, LoggerEvents } from './logger.js'
export { replay } from './replay.js'
export type { Handler, ReplayEnvelope, ReplaySummary, ReplayProgress, ReplayOutcome, OutcomeEvent, ReplayerEvents } from './replay.js'
export { DeadLetterError, PermanentError } from './errors.js'
export type { DeadLetterErrorCode } from './errors.js'
export { RawPayload } from './serialize.js'
export type { Loggable, JsonOut } from './serialize.js'
export type { Envelope, FinalReason } from './envelope.js'
export type { LoggerOptions, ReplayOptions, Durability, FullPolicy, LoggerLike } from './options.js'
export { parseDuration, parseSize } from './options.js'
