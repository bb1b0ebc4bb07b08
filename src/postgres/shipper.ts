/**
 * `store.startShipper(path)`: ship on an interval in the background (base/loop.ts), the first
 * round at once. A failed round (database down) is reported to the store's `error` event and
 * retried next interval; a round that found the replay lock taken (a local replay, another
 * shipper) is not a failure. It never throws into the app.
 */
import { startLoop } from '../base/loop.js'
import type { ResolvedShipOptions } from './options.js'
import type { ShipResult } from './ship.js'

export interface ShipperHooks {
  ship: (signal: AbortSignal) => Promise<ShipResult>
  onShipped?: (r: ShipResult) => void
  onError: (err: unknown) => void
}

// TODO(issue 18, integrator): `_o` is unused; drop it here and in store.ts (WP3's file).
export function startShipperLoop(interval: number, _o: ResolvedShipOptions, hooks: ShipperHooks): () => Promise<void> {
  return startLoop({ every: interval, first: 'now', run: hooks.ship, onResult: hooks.onShipped, onError: hooks.onError })
}
