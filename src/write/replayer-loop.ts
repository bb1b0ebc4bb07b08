/**
 * `dlq.startReplayer(handler)`: replay on an interval in the background, a retry worker for
 * long-running services (postgres/shipper.ts does the same for shipping). A failed run is
 * reported and the next one starts an interval later; a run that found the replay lock taken,
 * or the logger closed, is not a failure. The returned function stops the loop and resolves
 * once a run under way has finished.
 */
import type { DeadLetterError } from '../base/errors.js'
import type { ReplaySummary } from '../replay/index.js'

export interface ReplayerLoopHooks {
  replay: (signal: AbortSignal) => Promise<ReplaySummary>
  onRun: ((summary: ReplaySummary) => void) | undefined
  onError: (err: Error) => void
  /** True once the logger is closed: no further run is started. */
  closed: () => boolean
}

export function startReplayerLoop(every: number, outer: AbortSignal | undefined, hooks: ReplayerLoopHooks): () => Promise<void> {
  const { onRun } = hooks
  const ac = new AbortController()
  outer?.addEventListener('abort', () => ac.abort(), { once: true })
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const tick = () => {
    if (ac.signal.aborted || hooks.closed()) return
    running = hooks
      .replay(ac.signal)
      .then((s) => onRun?.(s))
      .catch((err: Error) => {
        if ((err as DeadLetterError).code !== 'DLQ_REPLAY_LOCKED' && (err as DeadLetterError).code !== 'DLQ_CLOSED') {
          hooks.onError(err)
        }
      })
      .finally(() => {
        running = undefined
        if (!ac.signal.aborted && !hooks.closed()) {
          timer = setTimeout(tick, every)
          timer.unref()
        }
      })
  }
  timer = setTimeout(tick, every)
  timer.unref()
  return async () => {
    ac.abort()
    if (timer) clearTimeout(timer)
    await running
  }
}
