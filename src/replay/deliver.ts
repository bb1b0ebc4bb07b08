/**
 * Calling the handler for one due item: the first attempt synchronously, then, only after a
 * failure, the in-place retries through p-retry, each call bounded by `handlerTimeout` and,
 * when the run traces, inside its own process span (src/base/trace.ts).
 *
 * A handler that returns without a thenable and without throwing settles the item right
 * there: no promise, no microtask hop. Everything else resolves to `undefined` (delivered)
 * or a `Failed` holding what the handler threw last.
 */
import pRetry, { AbortError } from 'p-retry'
import { isPermanentError } from '../base/errors.js'
import type { ResolvedReplayOptions } from '../base/options.js'
import type { Handler, ReplayEnvelope } from './types.js'
import { isThenable } from '../base/handler-timeout.js'
import { type ProcessSpans, callHandler } from '../base/trace.js'

export class Failed {
  constructor(readonly error: unknown) {}
}

export type DeliveryPolicy = Pick<ResolvedReplayOptions, 'retries' | 'retryDelay' | 'maxWait' | 'handlerTimeout' | 'signal'>

/** Wraps handler failures so p-retry retries every error, not only non-TypeErrors. */
class AttemptFailed extends Error {
  constructor(readonly original: unknown) {
    super('attempt failed')
  }
}

export class Deliverer {
  constructor(
    private readonly handler: Handler,
    private readonly policy: DeliveryPolicy,
    private readonly spans: ProcessSpans<ReplayEnvelope> | undefined,
  ) {}

  /**
   * `undefined`: delivered synchronously; a `Failed`: failed synchronously for good (no
   * retries left, or a PermanentError). Otherwise the outcome, once settled.
   */
  deliver(env: ReplayEnvelope): undefined | Failed | Promise<Failed | undefined> {
    let r: unknown
    try {
      r = this.call(env)
    } catch (err) {
      if (this.policy.retries === 0 || isPermanentError(err)) return new Failed(err)
      return this.afterFailure(env, err)
    }
    if (!isThenable(r)) return undefined
    return this.settle(env, r)
  }

  private async settle(env: ReplayEnvelope, first: PromiseLike<unknown>): Promise<Failed | undefined> {
    try {
      await first
      return undefined
    } catch (err) {
      return this.afterFailure(env, err)
    }
  }

  private async afterFailure(env: ReplayEnvelope, firstError: unknown): Promise<Failed | undefined> {
    const p = this.policy
    if (p.retries === 0 || isPermanentError(firstError)) return new Failed(firstError)
    // What counts is what the handler itself did: p-retry also rejects with the abort reason
    // while waiting between attempts, and checks the signal after a successful attempt.
    let last = firstError
    let handled = false
    let replayedFirst = false
    try {
      await pRetry(
        async () => {
          // p-retry's first attempt is the one already made: its delays and count stay as if
          // p-retry had made it.
          if (!replayedFirst) {
            replayedFirst = true
            throw new AttemptFailed(firstError)
          }
          try {
            await this.call(env)
            handled = true
          } catch (err) {
            last = err
            if (isPermanentError(err)) throw new AbortError(err as Error)
            throw new AttemptFailed(err)
          }
        },
        {
          retries: p.retries,
          minTimeout: p.retryDelay,
          maxTimeout: Math.max(p.retryDelay, p.maxWait),
          factor: 2,
          randomize: false,
          signal: p.signal,
        },
      )
    } catch {
      if (!handled) return new Failed(last)
    }
    return undefined
  }

  private call(env: ReplayEnvelope): unknown {
    return callHandler(this.spans, this.handler, env.payload, env, this.policy.handlerTimeout)
  }
}
