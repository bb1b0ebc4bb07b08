/**
 * Sealing a log from outside the writer's process (replay, and CLI commands such as requeue
 * that need every record in a sealed segment). The writer's active files are never read or
 * written from here while a writer is alive: it is asked to seal them instead.
 *
 * Sealing an orphaned active file (no live writer) is not being a writer: it takes the short
 * seal lock, never the writer lock, so an application starting meanwhile does not fail —
 * Logger.open takes the writer lock and then waits (openTimeout) for the seal lock to go.
 * The sealer checks for a live writer after taking its lock and again just before each
 * rename, so it never renames an active file a live writer owns.
 */
import { DeadLetterError } from '../base/errors.js'
import { FileLock, inspectLock, lockedError, sealLockPath, waitWhileHeld } from './lock.js'
import { requestSeal } from './seal-request.js'
import { type LogPaths, type SegmentFamily, logPaths, maxSeq, recoverSegments, sealActiveFile } from './segments.js'

export interface SealLogOptions {
  /** Also seal the active permanent-log file. Default false. */
  permanent?: boolean
  /** How long to wait for a live writer to answer (ms). Default 5000. */
  timeout?: number
  /** Mode for files created. Default 0o600. */
  mode?: number
  signal?: AbortSignal
}

export interface SealLogResult {
  /** 'self': no writer was alive and we sealed; 'writer': the live writer sealed; 'timeout': it did not answer. */
  by: 'self' | 'writer' | 'timeout'
  retry: string | null
  permanent: string | null
  error?: string
}

/** A writer that keeps coming and going between our looks cannot keep us here forever. */
const MAX_ROUNDS = 5

export async function sealLog(logPath: string | LogPaths, opts: SealLogOptions = {}): Promise<SealLogResult> {
  const paths = typeof logPath === 'string' ? logPaths(logPath) : logPath
  const mode = opts.mode ?? 0o600
  const timeout = opts.timeout ?? 5000
  for (let round = 0; round < MAX_ROUNDS && !opts.signal?.aborted; round++) {
    const self = await sealOrphaned(paths, opts.permanent ?? false, mode, timeout, opts.signal)
    if (self) return self
    const asked = await requestSeal(paths, mode, timeout, opts.signal)
    if (asked.outcome === 'answered') {
      const res = asked.response
      return { by: 'writer', retry: res.retry, permanent: res.permanent, ...(res.error ? { error: res.error } : {}) }
    }
    if (asked.outcome === 'timeout') break
    // 'writer-gone': it closed or died without answering; its files are orphaned now.
  }
  return { by: 'timeout', retry: null, permanent: null }
}

class WriterAppeared extends Error {}

/** Seal the active files ourselves when no writer is alive; undefined when one is. */
async function sealOrphaned(
  paths: LogPaths,
  permanent: boolean,
  mode: number,
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<SealLogResult | undefined> {
  const guard = async () => {
    if ((await inspectLock(paths.writerLock)).state === 'alive') throw new WriterAppeared()
  }
  try {
    await guard()
  } catch {
    return undefined
  }
  const lock = await takeSealLock(paths, mode, waitMs, signal)
  try {
    // Under the seal lock: a writer that took its lock before this look is seen here; one that
    // takes it after waits for our seal lock before it touches its active file.
    await guard()
    const seal = async (fam: SegmentFamily) => {
      await recoverSegments(fam)
      return sealActiveFile(fam, async () => {
        await guard()
        return (await maxSeq(fam, 'writer')) + 1
      })
    }
    const retry = await seal(paths.retry)
    const perm = permanent ? await seal(paths.permanent) : null
    return { by: 'self', retry, permanent: perm }
  } catch (err) {
    if (err instanceof WriterAppeared) return undefined
    throw err
  } finally {
    await lock.release()
  }
}

async function takeSealLock(paths: LogPaths, mode: number, waitMs: number, signal: AbortSignal | undefined): Promise<FileLock> {
  const file = sealLockPath(paths.writerLock)
  for (let tries = 0; ; tries++) {
    try {
      return await FileLock.acquire(file, 'sealer', mode)
    } catch (err) {
      if ((err as DeadLetterError).code !== 'DLQ_LOCKED' || tries >= MAX_ROUNDS) throw err
    }
    // Another sealer (a concurrent sealLog() call): it is done in moments.
    const other = await waitWhileHeld(file, waitMs, signal)
    if (other.state === 'alive') throw lockedError(file, 'sealer', other.info, waitMs)
  }
}
