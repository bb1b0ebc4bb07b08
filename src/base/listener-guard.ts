/**
 * Calls the application's event listeners and callbacks (`rotated`, `evicted`, replay outcome
 * events, `shipped`, `onRun`, `onProgress`, …) so that what they throw can never reach the
 * library: EventEmitter.emit() throws a listener's exception into whoever emitted, which used
 * to skip compression and retention after a seal, fail a rotate() that had worked, abort a
 * requeue halfway, or end the process as an unhandled rejection of a background loop.
 *
 * Each listener is called on its own, so one that throws does not keep the others from
 * running; a promise one returns is watched too (an async listener that rejects would
 * otherwise be an unhandled rejection). Failures go to `report`: the first of each event at
 * once, then at most one a minute with the count held back (a listener that throws on every
 * replayed item must not flood the application's logs), the rest on flush().
 */
import type { EventEmitter } from 'node:events'
import { describeReason, truncateReason } from './reason.js'
import { WarningLimiter } from './warning-limiter.js'

const REPORT_EVERY_MS = 60_000

export type ListenerFailureReport = (message: string, err: unknown) => void

export class ListenerGuard {
  private readonly limiters = new Map<string, WarningLimiter>()

  constructor(private readonly report: ListenerFailureReport) {}

  /** emit() that never throws; true when anyone listened. */
  emit(emitter: EventEmitter, event: string, value: unknown): boolean {
    if (emitter.listenerCount(event) === 0) return false
    // rawListeners: `once` wrappers remove themselves when called, as emit() would.
    const listeners = emitter.rawListeners(event) as Array<(v: unknown) => unknown>
    for (const l of listeners) this.invoke(`a listener of '${event}'`, l, emitter, value)
    return listeners.length > 0
  }

  /** Call an application callback (`onRun`, `onProgress`); never throws. */
  call<A>(name: string, fn: ((arg: A) => unknown) | undefined, arg: A): void {
    if (fn !== undefined) this.invoke(`the ${name} callback`, fn as (v: unknown) => unknown, undefined, arg)
  }

  /** `fn` wrapped so that it never throws (for callbacks handed on to code that calls them). */
  wrap<A>(name: string, fn: ((arg: A) => unknown) | undefined): ((arg: A) => void) | undefined {
    return fn === undefined ? undefined : (arg: A) => this.call(name, fn, arg)
  }

  /** Report what the limits held back (at the end of a run, at close). */
  flush(): void {
    for (const [what, limiter] of this.limiters) {
      const text = limiter.flush(`${what} threw; ignored`)
      if (text !== undefined) this.report(text, undefined)
    }
  }

  private invoke(what: string, fn: (v: unknown) => unknown, self: unknown, value: unknown): void {
    let ret: unknown
    try {
      ret = Reflect.apply(fn, self, [value])
    } catch (err) {
      this.failed(what, err)
      return
    }
    if (ret !== null && typeof ret === 'object' && typeof (ret as PromiseLike<unknown>).then === 'function') {
      try {
        Promise.resolve(ret).then(undefined, (err: unknown) => this.failed(what, err))
      } catch {}
    }
  }

  private failed(what: string, err: unknown): void {
    let limiter = this.limiters.get(what)
    if (limiter === undefined) this.limiters.set(what, (limiter = new WarningLimiter(REPORT_EVERY_MS)))
    const text = limiter.take(`${what} threw; ignored (${describeThrown(err)})`)
    if (text !== undefined) this.report(text, err)
  }
}

/** A thrown value in a few words, whatever it is (reason.ts also copes with Proxies and throwing getters). */
function describeThrown(err: unknown): string {
  return truncateReason(describeReason(err).text ?? String(err), 200)
}
