/**
 * How a replayer in another process asks the live writer to seal its active segments
 * without ever touching the writer's files: it writes a request file with a nonce; the
 * writer polls for it on an unref'd timer, seals, and answers with a done file carrying the
 * same nonce. Both files are written atomically (temp, fsync, rename).
 */
import crypto from 'node:crypto'
import fsp from 'node:fs/promises'
import { readSmallFile, unlinkIfExists, writeFileAtomic } from './fs-safe.js'
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
  let raw: string | undefined
  try {
    raw = await readSmallFile(paths.sealRequest)
  } catch {
    return false
  }
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

/** Replayer side: ask and wait up to `timeoutMs`; undefined when the writer did not answer. */
export async function requestSeal(paths: LogPaths, mode: number, timeoutMs: number, signal?: AbortSignal): Promise<SealResponse | undefined> {
  const nonce = crypto.randomBytes(8).toString('hex')
  await unlinkIfExists(paths.sealDone)
  await writeFileAtomic(paths.sealRequest, JSON.stringify({ nonce, pid: process.pid, at: Date.now() }), mode)
  const deadline = Date.now() + timeoutMs
  let wait = 5
  try {
    while (Date.now() < deadline && !signal?.aborted) {
      const raw = await readSmallFile(paths.sealDone).catch(() => undefined)
      if (raw !== undefined) {
        try {
          const res = JSON.parse(raw) as SealResponse
          if (res.nonce === nonce) return res
        } catch {}
      }
      await new Promise((r) => setTimeout(r, wait))
      wait = Math.min(wait * 2, 50)
    }
    return undefined
  } finally {
    // Withdraw an unanswered request so a writer does not seal for nobody later.
    const pending = await readSmallFile(paths.sealRequest).catch(() => undefined)
    if (pending?.includes(nonce)) await fsp.unlink(paths.sealRequest).catch(() => {})
    await unlinkIfExists(paths.sealDone).catch(() => {})
  }
}
