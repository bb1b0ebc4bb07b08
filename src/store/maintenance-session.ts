/**
 * "Take the replay lock, recover, seal": how every offline operation on a log begins
 * (requeue, purge, the CLI's replay pre-step). Holding the replay lock makes us the only
 * process that creates replayer-owned names, appends to the corrupt log or writes
 * checkpoints, and recovery first settles whatever a killed holder left behind.
 */
import { FileLock } from './lock.js'
import { sealLog } from './seal.js'
import type { LogPaths } from './segments.js'
import { recoverLog } from './recovery.js'

export interface MaintenanceOptions {
  /** File mode for files created (lock, checkpoints). Default 0o600. */
  mode?: number
  /**
   * Also get every permanent-log record into a sealed segment: a live writer is asked to seal
   * its active files (we seal them ourselves when no writer is alive). Default false.
   */
  sealPermanent?: boolean
  /** How long to wait for a live writer to answer the seal request (ms). Default 5000. */
  sealTimeout?: number
  signal?: AbortSignal
  /** Named in the lock, so a refused process learns what holds it: 'requeue', 'purge', 'ship'. */
  operation?: string
}

export interface MaintenanceSession {
  paths: LogPaths
  /** What recovery of an interrupted rewrite did, in words; null when there was none. */
  recovered: string | null
  /** Non-fatal problems (the writer did not answer the seal request, …). */
  warnings: string[]
}

/** Run `fn` holding the replay lock on a recovered (and, if asked, sealed) log. Throws DLQ_REPLAY_LOCKED when another process holds it. */
export async function withMaintenance<T>(paths: LogPaths, opts: MaintenanceOptions, fn: (s: MaintenanceSession) => Promise<T>): Promise<T> {
  const mode = opts.mode ?? 0o600
  const lock = await FileLock.acquire(paths.replayLock, 'replay', mode, { operation: opts.operation })
  try {
    const report = await recoverLog(paths, mode)
    const session: MaintenanceSession = { paths, recovered: report.rewrite ?? null, warnings: [] }
    // Once aborted, the operation stops before reading anything: asking a writer to seal would only cost its wait.
    if (opts.sealPermanent && !opts.signal?.aborted) {
      const seal = await sealLog(paths, { permanent: true, timeout: opts.sealTimeout ?? 5000, mode, signal: opts.signal })
      if (seal.by === 'timeout') {
        session.warnings.push('the live writer did not answer the seal request; entries in its active permanent file are not included')
      } else if (seal.error) {
        session.warnings.push(`the live writer could not seal its active files: ${seal.error}`)
      }
    }
    return await fn(session)
  } finally {
    await lock.release()
  }
}
