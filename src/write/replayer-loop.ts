/**
 * `dlq.startReplayer(handler)`: replay on an interval in the background (base/loop.ts), a
 * retry worker for long-running services. The first run starts an interval from now.
 */
import { startLoop } from '../base/loop.js'
import type { ReplaySummary } from '../replay/index.js'

export interface ReplayerLoopHooks {
  replay: (signal: AbortSignal) => Promise<ReplaySummary>
  onRun: ((summary: ReplaySummary) => void) | undefined
  onError: (err: Error) => void
  /** True once the logger is closed: no further run is started. */
  closed: () => boolean
}

export function startReplayerLoop(every: number, outer: AbortSignal | undefined, hooks: ReplayerLoopHooks): () => Promise<void> {
  return startLoop({
    every,
    first: 'later',
    signal: outer,
    run: hooks.replay,
    onResult: hooks.onRun,
    onError: (err) => hooks.onError(err as Error),
    closed: hooks.closed,
  })
}
