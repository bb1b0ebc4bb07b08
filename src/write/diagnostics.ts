/**
 * Where a Logger's diagnostics go: the injected logger (`options.logger`, pino-like) and the
 * 'warning' / 'error' events. One object, shared by the logger and the parts it delegates
 * to, so they all report the same way — including the rules below: warnings raised during
 * open() wait until the caller can subscribe, an 'error' nobody listens to never reaches the
 * EventEmitter, and every event goes out through a ListenerGuard, so a listener that throws
 * becomes a warning instead of changing what the logger does.
 */
import type { EventEmitter } from 'node:events'
import { ListenerGuard } from '../base/listener-guard.js'
import type { LoggerEvents } from './events.js'
import type { LoggerLike } from '../base/options.js'

export class Diagnostics {
  /** Warnings raised while open() runs; undefined once open() handed the logger out. */
  private openWarnings: Error[] | undefined = []
  /** A throwing listener of any event but 'warning' is reported as a warning… */
  private readonly guard = new ListenerGuard((message, err) => this.warn(message, err))
  /** …and one of 'warning' to the injected logger only, or it would report itself forever. */
  private readonly warningGuard = new ListenerGuard((message, err) => this.log('warn', { err }, `dlq: ${message}`))

  constructor(
    /** The injected logger, if any (replay reports to it too). */
    readonly logger: LoggerLike | undefined,
    private readonly events: EventEmitter<LoggerEvents>,
  ) {}

  warn(message: string, cause?: unknown): void {
    const err = new Error(`dlq: ${message}`, cause === undefined ? undefined : { cause })
    this.log('warn', { err: cause }, err.message)
    // During open() nobody can have subscribed yet: hold the warning until the caller has the
    // logger (emitted on the next turn of the event loop, after `await Logger.open()` returns).
    if (this.openWarnings) this.openWarnings.push(err)
    else this.warningGuard.emit(this.events, 'warning', err)
  }

  /** open() is done: emit the warnings it held, on the next turn of the event loop. */
  releaseOpenWarnings(): void {
    const held = this.openWarnings ?? []
    this.openWarnings = undefined
    if (held.length > 0) {
      setImmediate(() => {
        for (const err of held) this.warningGuard.emit(this.events, 'warning', err)
      })
    }
  }

  error(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    this.log('error', { err: e }, e.message)
    // An 'error' event with no listener would crash the host process; the library never does that.
    this.guard.emit(this.events, 'error', e)
  }

  /** Emit one of the logger's events; what a listener throws is reported, never rethrown. */
  emit<K extends keyof LoggerEvents>(event: K, ...value: LoggerEvents[K]): void {
    this.guard.emit(this.events as EventEmitter, event as string, value[0])
  }

  /** An application callback (`onRun`) wrapped so that what it throws becomes a warning. */
  callback<A>(name: string, fn: ((arg: A) => unknown) | undefined): ((arg: A) => void) | undefined {
    return this.guard.wrap(name, fn)
  }

  /** At close: report the listener failures the rate limit held back. */
  flush(): void {
    this.guard.flush()
    this.warningGuard.flush()
  }

  info(obj: object, msg: string): void {
    this.log('info', obj, msg)
  }

  debug(obj: object, msg: string): void {
    this.log('debug', obj, msg)
  }

  /** The injected logger is application code too: what it throws must not reach the writer. */
  private log(level: 'debug' | 'info' | 'warn' | 'error', obj: object, msg: string): void {
    try {
      this.logger?.[level]?.(obj, msg)
    } catch {}
  }
}
