/**
 * The one background loop (startReplayer, startShipper): a run every `every` ms, one at a
 * time, the next an interval after the previous one ended, so runs never overlap. A run that
 * fails is reported through the owner's `onError` (its listener guard) and the loop goes on;
 * one that found the replay lock taken, or its owner closed, is not a failure and reports
 * nothing. The returned stop aborts the run in flight (its signal) and resolves once it ended.
 */
import type { DeadLetterError } from './errors.js'

export interface LoopOptions<T> {
  every: number
  /** 'now': the first run at once; 'later': one interval from now. */
  first: 'now' | 'later'
  /** Stops the loop too, as the returned function does. */
  signal?: AbortSignal
  run: (signal: AbortSignal) => Promise<T>
  onResult?: (result: T) => void
  onError: (err: unknown) => void
  /** True once the owner is closed: no further run starts. */
  closed?: () => boolean
}

export function startLoop<T>(o: LoopOptions<T>): () => Promise<void> {
  const ac = new AbortController()
  const abort = () => ac.abort()
  if (o.signal?.aborted) ac.abort()
  o.signal?.addEventListener('abort', abort, { once: true })
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const over = () => ac.signal.aborted || o.closed?.() === true
  const schedule = () => {
    if (over()) return
    timer = setTimeout(tick, o.every)
    timer.unref()
  }
  const tick = () => {
    timer = undefined
    if (over()) return
    running = Promise.resolve()
      .then(() => o.run(ac.signal))
      .then((r) => o.onResult?.(r))
      .catch((err: unknown) => {
        const code = (err as DeadLetterError | undefined)?.code
        if (code !== 'DLQ_REPLAY_LOCKED' && code !== 'DLQ_CLOSED') o.onError(err)
      })
      // onError is the owner's guard; should it throw anyway, the loop still goes on.
      .catch(() => {})
      .finally(() => {
        running = undefined
        schedule()
      })
  }
  if (o.first === 'now') tick()
  else schedule()
  return async () => {
    ac.abort()
    o.signal?.removeEventListener('abort', abort)
    if (timer) clearTimeout(timer)
    await running
  }
}
