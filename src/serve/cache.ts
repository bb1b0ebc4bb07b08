/**
 * Request-rate independence: a dashboard tab per person and a scrape every few seconds must
 * not turn into as many reads of the log. Concurrent callers share one computation, a result
 * is reused for a short while, and scans (the expensive reads) run a few at a time.
 */

/** Shares one in-flight computation and reuses its result for `ttlMs`. */
export class Memo<T> {
  private value: { at: number; v: T } | undefined
  private inflight: Promise<T> | undefined
  // Bumped by invalidate(): a computation started before it must not be kept.
  private generation = 0

  constructor(
    private readonly ttlMs: number,
    private readonly compute: () => Promise<T>,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    if (this.value && this.now() - this.value.at < this.ttlMs) return Promise.resolve(this.value.v)
    if (!this.inflight) {
      const gen = this.generation
      const p: Promise<T> = this.compute().then(
        (v) => {
          if (gen === this.generation) this.value = { at: this.now(), v }
          if (this.inflight === p) this.inflight = undefined
          return v
        },
        (err) => {
          if (this.inflight === p) this.inflight = undefined
          throw err
        },
      )
      this.inflight = p
    }
    return this.inflight
  }

  /** Forget the value (the log was just changed): the next get() computes afresh. */
  invalidate(): void {
    this.generation++
    this.value = undefined
    this.inflight = undefined
  }
}

/**
 * Serves the last finished value at once and refreshes it in the background when it is
 * older than max(minAgeMs, factor × the time the last computation took): a slow scan is
 * repeated less often, so its cost stays a bounded share of the machine.
 */
export class Background<T extends { at: number; tookMs: number }> {
  private value: T | undefined
  private inflight: Promise<void> | undefined

  constructor(
    private readonly minAgeMs: number,
    private readonly factor: number,
    private readonly compute: () => Promise<T>,
    private readonly now: () => number = Date.now,
  ) {}

  current(): T | undefined {
    const v = this.value
    const stale = !v || this.now() - v.at > Math.max(this.minAgeMs, this.factor * v.tookMs)
    if (stale && !this.inflight) {
      this.inflight = this.compute().then(
        (next) => {
          this.value = next
        },
        // The last value stays shown; the next request retries.
        () => {},
      ).finally(() => {
        this.inflight = undefined
      })
    }
    return v
  }

  /** The log changed: the next current() starts a refresh (the old value is shown until it ends). */
  invalidate(): void {
    if (this.value) this.value = { ...this.value, at: -Infinity }
  }

  /** Waits for the computation in progress, if any (tests, and the first overview). */
  async settled(): Promise<T | undefined> {
    await this.inflight
    return this.value
  }
}

/** At most `limit` tasks at once; the rest wait in order. */
export class Limiter {
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.running >= this.limit) {
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        const onAbort = () => {
          const i = this.waiting.indexOf(go)
          if (i >= 0) this.waiting.splice(i, 1)
          reject(signal?.reason)
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        this.waiting.push(go)
      })
      // The finishing task handed its slot over: `running` already counts this one.
    } else {
      signal?.throwIfAborted()
      this.running++
    }
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }
}
