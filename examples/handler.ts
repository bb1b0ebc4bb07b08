/**
 * A handler module for `dletter replay --handler examples/handler.ts`, the shape the cron
 * recipe uses: export a function (default, or named `handler`) that takes the payload and
 * its envelope and returns a promise.
 *
 *   - resolve            → delivered, the item leaves the log
 *   - throw any error    → re-logged with attempt+1 and a backoff due time (or moved to the
 *                          permanent log once --max-attempts is reached)
 *   - throw PermanentError → straight to the permanent log: retrying cannot help
 *
 * Make it idempotent (replay is at-least-once): `envelope.id` is the id given to log().
 *
 * The downstream here is simulated, so the demo (examples/demo.ts) runs anywhere: a payments
 * API that fails at random, deterministically (seeded by order id and attempt), and rejects
 * one customer's legacy account until DEMO_DOWNSTREAM_FIXED=1. Replace `chargeOrder` with
 * your real call. In your project import from 'dletter' instead of '../src/index.js'.
 */
import { PermanentError, type ReplayEnvelope } from '../src/index.js'

export interface Order {
  orderId: string
  customer: string
  amount: number
  currency: string
  /** The data bug of the demo's repair step: an older checkout sent the amount as text ("12,50") and 0. */
  amountText?: string
}

export default async function handler(order: Order, envelope: ReplayEnvelope<Order>): Promise<void> {
  // Validation failures never heal: do not burn retries on them.
  if (!(order.amount > 0)) throw new PermanentError(`invalid order ${order.orderId}: amount must be positive, got ${order.amount}`)
  await chargeOrder(order, envelope.attempt)
}

// ----------------------------------------------------------------------------------------
// The simulated payments API.

/** FNV-1a, to turn "order id + attempt" into a seed. */
function hash(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** mulberry32: a small seeded generator, so every run of the demo tells the same story. */
export function seeded(seed: number | string): () => number {
  let a = typeof seed === 'string' ? hash(seed) : seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/**
 * Charge an order. `attempt` 0 is the original call (during an outage: mostly failing);
 * later attempts fail less and less often, as a recovering service does.
 */
export async function chargeOrder(order: Order, attempt: number): Promise<void> {
  const rnd = seeded(`${order.orderId}:${attempt}`)
  await new Promise((r) => setTimeout(r, Math.floor(rnd() * 3)))
  if (!(order.amount > 0)) throw new HttpError(422, `422 Unprocessable Entity: amount ${order.amount} for ${order.orderId}`)
  if (order.customer === 'legacy-corp' && process.env.DEMO_DOWNSTREAM_FIXED !== '1') {
    throw new HttpError(400, `400 account ${hex(rnd, 12)} uses the legacy billing schema`)
  }
  const failRate = attempt === 0 ? 0.9 : [0.45, 0.4, 0.35][attempt - 1] ?? 0.3
  if (rnd() >= failRate) return
  const kind = rnd()
  if (kind < 0.5) throw new Error(`timeout after ${2900 + Math.floor(rnd() * 300)}ms`)
  if (kind < 0.8) throw new HttpError(503, `503 Service Unavailable (request ${uuid(rnd)})`)
  throw Object.assign(new Error(`connect ECONNRESET 10.0.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 250)}:443`), { code: 'ECONNRESET' })
}

function hex(rnd: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16)
  return s
}

function uuid(rnd: () => number): string {
  return `${hex(rnd, 8)}-${hex(rnd, 4)}-4${hex(rnd, 3)}-a${hex(rnd, 3)}-${hex(rnd, 12)}`
}
