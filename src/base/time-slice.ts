/**
 * Long CPU loops on the event loop (the line readers behind stats, inspect, counts, reason
 * groups, requeue, purge, replay and shipping) give the loop back after each slice of work, so
 * that whatever else the process serves — `dletter serve`'s pages and /metrics, an
 * application's own requests — waits about one slice per round trip of its own I/O, never for
 * a whole scan.
 *
 * Slices are measured in elapsed time, not lines: the clock is read once per CHECK_BYTES of
 * input (a subtraction per line otherwise), and a yield costs one turn of the loop, so a scan
 * that runs alone slows down by a fraction of a percent.
 *
 * Loops that wait share one queue and take turns, one slice per turn of the loop: two scans
 * at once still leave the loop free after every slice, not after one slice of each.
 */

/**
 * Work between two turns of the event loop. Short, because a request that needs K round trips
 * of I/O (a /metrics count: about 8) waits up to K slices while a scan runs; a turn costs ~3 µs
 * (measured: 100k yields next to a listening server), so 1 ms slices cost the scan ~0.3 %.
 */
const SLICE_MS = 1
/** Input bytes between two reads of the clock (~130 short records, or one long one). */
const CHECK_BYTES = 16 * 1024

let sliceMs = SLICE_MS
let sliceStart = performance.now()
const waiting: Array<() => void> = []
let turnScheduled = false

/**
 * Counts the input a loop has worked through and says when its slice is spent:
 * `if (slicer.spent(bytes)) await yieldToLoop()` after each record.
 */
export class Slicer {
  private left = CHECK_BYTES

  spent(bytes: number): boolean {
    if ((this.left -= bytes) > 0) return false
    this.left = CHECK_BYTES
    return performance.now() - sliceStart >= sliceMs
  }
}

/** Resolves on a later turn of the event loop, after the loops queued before this one had theirs. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve)
    if (!turnScheduled) scheduleTurn()
  })
}

function scheduleTurn(): void {
  turnScheduled = true
  // setImmediate runs after the poll phase: I/O callbacks (requests, file reads) go first.
  setImmediate(turn)
}

function turn(): void {
  turnScheduled = false
  const next = waiting.shift()!
  // Queued from inside this check phase, the next turn waits for the next pass of the loop.
  if (waiting.length > 0) scheduleTurn()
  sliceStart = performance.now()
  next()
}

/**
 * The slice length in milliseconds (Infinity: never yield; no argument: the default). For
 * benchmarks that compare a scan with and without yielding in one process; not public API.
 */
export function setSliceMs(ms = SLICE_MS): void {
  sliceMs = ms
}
