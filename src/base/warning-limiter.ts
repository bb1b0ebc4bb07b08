/**
 * Keeps a warning that repeats on every call (a rotation that keeps failing is retried after
 * every batch) from flooding the application's logs: the first occurrence is reported at once,
 * then at most one per `everyMs` (monotonic clock) carrying the count of those held back, and
 * whatever is still held back is reported by flush() (on recovery and on close).
 */
import { performance } from 'node:perf_hooks'

export class WarningLimiter {
  private last = -Infinity
  private suppressed = 0

  constructor(private readonly everyMs: number) {}

  /** The text to report now, or undefined when this occurrence is held back. */
  take(message: string): string | undefined {
    const now = performance.now()
    if (now - this.last < this.everyMs) {
      this.suppressed++
      return undefined
    }
    this.last = now
    return this.withCount(message)
  }

  /** A summary of the occurrences held back since the last report (undefined if none); rearms. */
  flush(message: string): string | undefined {
    const text = this.suppressed > 0 ? this.withCount(message) : undefined
    this.last = -Infinity
    return text
  }

  private withCount(message: string): string {
    const n = this.suppressed
    this.suppressed = 0
    return n === 0 ? message : `${message} (${n} more like it suppressed)`
  }
}
