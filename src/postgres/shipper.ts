/**
 * `store.startShipper(path)`: ship on an interval in the background, like startReplayer.
 * A failed round (database down, a local replay holding the lock) is reported to the
 * `onError` callback / logger and retried next interval; it never throws into the app.
 * The returned function stops it and resolves once an in-flight round has finished.
 */
import type { ResolvedShipOptions } from './options.js'
import type { ShipResult } from './ship.js'

export interface ShipperHooks {
  ship: (signal: AbortSignal) => Promise<ShipResult>
  onShipped?: (r: ShipResult) => void
  onError: (err: unknown) => void
}

export function startShipperLoop(interval: number, _o: ResolvedShipOptions, hooks: ShipperHooks): () => Promise<void> {
  const ac = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const round = () => {
    timer = undefined
    running = hooks
      .ship(ac.signal)
      .then((r) => hooks.onShipped?.(r), hooks.onError)
      .finally(() => {
        running = undefined
        if (!ac.signal.aborted) schedule()
      })
  }
  const schedule = () => {
    timer = setTimeout(round, interval)
    timer.unref()
  }
  round()
  return async () => {
    ac.abort()
    if (timer) clearTimeout(timer)
    await running
  }
}
