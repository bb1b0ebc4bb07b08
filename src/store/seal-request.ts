/**
 * How a replayer in another process asks the live writer to seal its active segments
 * without ever touching the writer's files: it writes a request file with a nonce; the
 * writer polls for it on an unref'd timer, seals, and answers with a done file carrying the
 * same nonce. Both files are written atomically (temp, fsync, rename).
 */
import crypto from 'node:crypto'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { inspectLock } from './lock.js'
import { pidExists } from './process-identity.js'
import { atomicTempPid, readSmallFile, unlinkIfExists, writeFileAtomic } from '../base/fs-safe.js'
import type { LogPaths } from './segments.js'

export interface SealResponse {
  nonce: string
  retry: string | null
  permanent: string | null
  error?: string
}

/** Writer side: if a request is pending, seal and answer. Returns true when one was served. */
export async function serveSealRequest(
  paths: LogPaths,
  mode: number,
  seal: () => Promise<{ retry: string | null; permanent: string | null }>,
): Promise<boolean> {
  const raw = await readSmallFile(paths.sealRequest).catch(() => undefined)
  if (raw === undefined) return false
  let nonce = ''
  try {
    nonce = String((JSON.parse(raw) as { nonce: unknown }).nonce)
  } catch {
    await unlinkIfExists(paths.sealRequest)
    return false
  }
  let res: SealResponse
  try {
    res = { nonce, ...(await seal()) }
  } catch (err) {
    res = { nonce, retry: null, permanent: null, error: (err as Error).message }
  }
  await writeFileAtomic(paths.sealDone, JSON.stringify(res), mode)
  await unlinkIfExists(paths.sealRequest)
  return true
}

export type SealOutcome =
  | { outcome: 'answered'; response: SealResponse }
  | { outcome: 'timeout' }
  /** The writer closed or died before answering: its active files are orphaned now. */
  | { outcome: 'writer-gone' }

/**
 * Replayer side: ask and wait up to `timeoutMs` for the answer. Each poll also looks at the
 * writer lock, so a writer that closes or dies instead of answering ends the wait at once.
 */
export async function requestSeal(paths: LogPaths, mode: number, timeoutMs: number, signal?: AbortSignal): Promise<SealOutcome> {
  const nonce = crypto.randomBytes(8).toString('hex')
  await unlinkIfExists(paths.sealDone)
  await writeFileAtomic(paths.sealRequest, JSON.stringify({ nonce, pid: process.pid, at: Date.now() }), mode)
  const deadline = performance.now() + timeoutMs
  let wait = 5
  try {
    while (!signal?.aborted) {
      const raw = await readSmallFile(paths.sealDone).catch(() => undefined)
      if (raw !== undefined) {
        try {
          const res = JSON.parse(raw) as SealResponse
          if (res.nonce === nonce) return { outcome: 'answered', response: res }
        } catch {}
      }
      // After reading the answer: a writer that answered and then closed still counts as answered.
      const writer = await inspectLock(paths.writerLock).catch(() => undefined)
      if (writer !== undefined && writer.state !== 'alive') return { outcome: 'writer-gone' }
      if (performance.now() >= deadline) break
      await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(1, deadline - performance.now()))))
      wait = Math.min(wait * 2, 50)
    }
    return { outcome: 'timeout' }
  } finally {
    // Withdraw an unanswered request so a writer does not seal for nobody later.
    const pending = await readSmallFile(paths.sealRequest).catch(() => undefined)
    if (pending?.includes(nonce)) await fsp.unlink(paths.sealRequest).catch(() => {})
    await unlinkIfExists(paths.sealDone).catch(() => {})
  }
}

/**
 * A process killed while writing a request or an answer leaves its temp file
 * (`.orders.log.seal-done.tmp-<pid>-<n>`) behind, and nothing else would ever remove it.
 * Those whose writer is gone are removed (exact names only; a live requester's are its own).
 */
export async function removeAbandonedTemps(paths: LogPaths): Promise<void> {
  const names = await fsp.readdir(paths.dir).catch(() => [] as string[])
  for (const file of [paths.sealRequest, paths.sealDone]) {
    for (const n of names) {
      const pid = atomicTempPid(path.basename(file), n)
      if (pid !== undefined && !pidExists(pid)) await unlinkIfExists(path.join(paths.dir, n)).catch(() => {})
    }
  }
}
