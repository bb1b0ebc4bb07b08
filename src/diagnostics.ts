/**
 * Where a Logger's diagnostics go: the injected logger (`options.logger`, pino-like) and the
 * 'warning' / 'error' events. One object, shared by the logger and the parts it delegates
 * to, so they all report the same way — including the two rules below: warnings raised
 * during open() wait until the caller can subscribe, and an 'error' nobody listens to never
 * reaches the EventEmitter.
 */
import type { EventEmitter } from 'node:events'
import type { LoggerEvents } from './logger.js'
import type { LoggerLike } from './options.js'

export class Diagnostics {
  /** Warnings raised while open() runs; undefined once open() handed the logger out. */
  private openWarnings: Error[] | undefined = []

  constructor(
    /** The injected logger, if any (replay reports to it too). */
    readonly logger: LoggerLike | undefined,
    private readonly events: EventEmitter<LoggerEvents>,
  ) {}

  warn(message: string, cause?: unknown): void {
    const err = new Error(`dlq: ${message}`, cause === undefined ? undefined : { cause })
    this.logger?.warn({ err: cause }, err.message)
    // During open() nobody can have subscribed yet: hold the warning until the caller has the
    // logger (emitted on the next turn of the event loop, after `await Logger.open()` returns).
    if (this.openWarnings) this.openWarnings.push(err)
    else if (this.events.listenerCount('warning') > 0) this.events.emit('warning', err)
  }

  /** open() is done: emit the warnings it held, on the next turn of the event loop. */
  releaseOpenWarnings(): void {
    const held = this.openWarnings ?? []
    this.openWarnings = undefined
    if (held.length > 0) {
      setImmediate(() => {
        for (const err of held) if (this.events.listenerCount('warning') > 0) this.events.emit('warning', err)
      })
    }
  }

  error(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    this.logger?.error({ err: e }, e.message)
    // An 'error' event with no listener would crash the host process; the library never does that.
    if (this.events.listenerCount('error') > 0) this.events.emit('error', e)
  }

  info(obj: object, msg: string): void {
    this.logger?.info(obj, msg)
  }

  debug(obj: object, msg: string): void {
    this.logger?.debug?.(obj, msg)
  }
}
