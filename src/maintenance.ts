/**
 * Sealing a log from outside the writer's process (replay, and CLI commands such as requeue
 * that need every record in a sealed segment). The writer's active files are never read or
 * written from here while a writer is alive: it is asked to seal them instead.
 */
import { DeadLetterError } from './errors.js'
import { FileLock } from './lock.js'
import { requestSeal } from './seal-request.js'
import { type LogPaths, logPaths, maxSeq, recoverSegments, sealActiveFile } from './segments.js'

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

export async function sealLog(logPath: string | LogPaths, opts: SealLogOptions = {}): Promise<SealLogResult> {
  const paths = typeof logPath === 'string' ? logPaths(logPath) : logPath
  const mode = opts.mode ?? 0o600
  let writerLock: FileLock | undefined
  try {
    writerLock = await FileLock.acquire(paths.writerLock, 'writer', mode)
  } catch (err) {
    if ((err as DeadLetterError).code !== 'DLQ_LOCKED') throw err
  }
  if (writerLock) {
    try {
      const seal = async (fam: LogPaths['retry']) => {
        await recoverSegments(fam)
        return sealActiveFile(fam, async () => (await maxSeq(fam, 'writer')) + 1)
      }
      const retry = await seal(paths.retry)
      const permanent = opts.permanent ? await seal(paths.permanent) : null
      return { by: 'self', retry, permanent }
    } finally {
      await writerLock.release()
    }
  }
  const res = await requestSeal(paths, mode, opts.timeout ?? 5000, opts.signal)
  if (!res) return { by: 'timeout', retry: null, permanent: null }
  return { by: 'writer', retry: res.retry, permanent: res.permanent, ...(res.error ? { error: res.error } : {}) }
}
