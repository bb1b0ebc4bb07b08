/**
 * Keeps checking that this process still owns its log, and answers other processes' requests
 * to seal it. One unref'd timer does both: on every tick it makes sure the writer lock file
 * still names us (re-creating it when it was deleted), then serves a pending seal request.
 * The writers ask too (ensureOwnership) when they find their active file taken; every caller
 * shares one check at a time.
 *
 * Whether the lock was lost is the logger's state, not the watch's: log() tests it on every
 * call, so it stays a plain field of the logger, read here through the host.
 */
import type { Diagnostics } from './diagnostics.js'
import type { DeadLetterError } from '../base/errors.js'
import type { ResolvedLoggerOptions } from '../base/options.js'
import type { FileLock } from '../store/lock.js'
import { serveSealRequest } from '../store/seal-request.js'
import type { LogPaths } from '../store/segments.js'

/** How often the lock is checked when seal requests are off (sealPollInterval: 0). */
const OWNERSHIP_CHECK_MS = 1000

/** The logger as the watch sees it. */
export interface OwnershipHost {
  /** True once close() has begun. */
  closed(): boolean
  /** Set once another live process holds our lock. */
  lost(): DeadLetterError | undefined
  /** Another live process holds our lock: fail from now on. */
  loseOwnership(err: DeadLetterError): void
  /** Seal both active segments (for a seal request). */
  sealActive(): Promise<{ retry: string | null; permanent: string | null }>
}

export class OwnershipWatch {
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  private check: Promise<void> | undefined

  constructor(
    private readonly lock: FileLock,
    private readonly paths: LogPaths,
    private readonly options: Readonly<ResolvedLoggerOptions>,
    private readonly host: OwnershipHost,
    private readonly diag: Diagnostics,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.poll(), this.options.sealPollInterval > 0 ? this.options.sealPollInterval : OWNERSHIP_CHECK_MS)
    this.timer.unref()
  }

  /** Stop the timer; the returned promise settles when a poll under way has finished. */
  stop(): Promise<void> | undefined {
    if (this.timer) clearInterval(this.timer)
    return this.polling
  }

  /**
   * Make sure the writer lock still names us (one check at a time, shared by both writers and
   * the timer): re-created when it was deleted, DLQ_LOCK_LOST when a live process holds it now.
   */
  ensureOwnership(): Promise<void> {
    const lost = this.host.lost()
    if (lost) return Promise.reject(lost)
    this.check ??= (async () => {
      const r = await this.lock.ensureHeld()
      if (r.state === 'lost') {
        this.host.loseOwnership(r.error)
        throw r.error
      }
      if (r.restored && !this.host.closed()) {
        this.diag.warn(`the writer lock ${this.paths.writerLock} was removed or replaced by someone else; re-created it`)
      }
    })().finally(() => {
      this.check = undefined
    })
    return this.check
  }

  private poll(): void {
    if (this.polling || this.host.closed() || this.host.lost()) return
    this.polling = this.pollOnce().finally(() => {
      this.polling = undefined
    })
  }

  private async pollOnce(): Promise<void> {
    try {
      await this.ensureOwnership()
    } catch (err) {
      // Lost: reported by loseOwnership(). Anything else (the lock unreadable) is retried next tick.
      if ((err as DeadLetterError).code !== 'DLQ_LOCK_LOST') this.diag.warn(`could not check the writer lock ${this.paths.writerLock}`, err)
      return
    }
    if (this.options.sealPollInterval <= 0 || this.host.closed()) return
    await serveSealRequest(this.paths, this.options.mode, () => this.host.sealActive()).catch((err) =>
      this.diag.warn('could not answer a seal request', err),
    )
  }
}
