/** The replay engine's public surface. */
export { Replayer, replay, runReplay } from './run.js'
export type { Handler, OutcomeEvent, ReplayContext, ReplayEnvelope, ReplayOutcome, ReplayListeners, ReplayProgress, ReplaySummary, ReplayerEvents } from './types.js'
