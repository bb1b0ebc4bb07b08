/**
 * Cross-process ownership: one writer per log path and one replayer per log path.
 *
 * A lock is a file created exclusively (link() of a written temp file) holding the owner's
 * pid, host and a random token.
 * A lock whose pid is gone on this host (or that predates the last boot, so its pid may have
 * been reused) is stale and reclaimed. Node has no flock(), so this is the portable option;
 * the only race left is two processes reclaiming the same stale lock in the same
 * microseconds, which the re-read before unlinking narrows to near zero.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { DeadLetterError, ioError } from './errors.js'
import { CREATE_EXCL_FLAGS, readSmallFile } from './fs-safe.js'

export interface LockInfo {
  pid: number
  host: string
  token: string
  since: number
  kind: string
  /** What holds a replay lock (replay, requeue, purge), so a refusal names the right thing. */
  operation?: string
}

export type LockKind = 'writer' | 'replay'

/**
 * Tokens of the locks this process holds. A lock naming our own pid with another token was
 * left by an earlier process that had the same pid: in a container, PID 1 after a restart.
 */
const heldTokens = new Set<string>()

/** A lock file without valid content younger than this is assumed to be mid-creation. */
const UNWRITTEN_GRACE_MS = 10_000

export class FileLock {
  readonly file: string
  readonly info: LockInfo
  private released = false

  private constructor(file: string, info: LockInfo) {
    this.file = file
    this.info = info
  }

  /** Take the lock or throw DLQ_LOCKED / DLQ_REPLAY_LOCKED naming the holder. */
  static async acquire(file: string, kind: LockKind, mode: number, operation?: string): Promise<FileLock> {
    const info: LockInfo = {
      pid: process.pid,
      host: os.hostname(),
      token: randomBytes(8).toString('hex'),
      since: Date.now(),
      kind,
      ...(operation !== undefined && { operation }),
    }
    for (let tries = 0; tries < 5; tries++) {
      try {
        await createLockFile(file, JSON.stringify(info) + '\n', mode)
        heldTokens.add(info.token)
        await removeStaleTemps(file)
        return new FileLock(file, info)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'EEXIST') throw ioError(`create lock ${file}`, err)
      }
      const holder = await inspectLock(file)
      if (holder.state === 'gone') continue
      if (holder.state === 'alive') throw lockedError(file, kind, holder.info)
      // Stale. Reclaim under a mutex, re-checking inside it: between our look and an unlink,
      // another process may already have reclaimed it and written a fresh lock.
      await withReclaimMutex(file, mode, async () => {
        const again = await readSmallFile(file)
        if (again !== holder.raw) return
        await fsp.unlink(file).catch((err) => {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`remove stale lock ${file}`, err)
        })
      })
    }
    throw new DeadLetterError(kind === 'writer' ? 'DLQ_LOCKED' : 'DLQ_REPLAY_LOCKED', `dlq: could not take ${file} (contended)`)
  }

  /** Only removes the file while it is still ours. */
  async release(): Promise<void> {
    if (this.released) return
    this.released = true
    heldTokens.delete(this.info.token)
    const raw = await readSmallFile(this.file).catch(() => undefined)
    if (raw !== undefined && raw.includes(this.info.token)) await fsp.unlink(this.file).catch(() => {})
  }

  releaseSync(): void {
    if (this.released) return
    this.released = true
    heldTokens.delete(this.info.token)
    try {
      const raw = fs.readFileSync(this.file, 'utf8')
      if (raw.includes(this.info.token)) fs.unlinkSync(this.file)
    } catch {}
  }
}

/**
 * Create the lock file with its content in one step: write a private temp file, then link()
 * it into place (EEXIST when the lock exists). With open(O_EXCL) then write, a crash between
 * the two left an empty lock that read as "being created" and blocked every restart for
 * UNWRITTEN_GRACE_MS. File systems without hard links fall back to O_EXCL and write.
 */
async function createLockFile(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const fh = await fsp.open(tmp, CREATE_EXCL_FLAGS, mode)
    try {
      await fh.writeFile(content)
    } finally {
      await fh.close()
    }
    try {
      await fsp.link(tmp, file)
      return
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
    }
  } finally {
    await fsp.unlink(tmp).catch(() => {})
  }
  const fh = await fsp.open(file, CREATE_EXCL_FLAGS, mode)
  try {
    await fh.writeFile(content)
  } catch (err) {
    // An empty lock file (disk full) would read as "being created" and block everyone.
    await fh.close().catch(() => {})
    await fsp.unlink(file).catch(() => {})
    throw err
  }
  await fh.close()
}

/**
 * A process killed between writing its temp file and linking it leaves the temp behind;
 * the next owner removes temps whose pid is gone (nothing ever reads them).
 */
async function removeStaleTemps(file: string): Promise<void> {
  const dir = path.dirname(file)
  const prefix = path.basename(file) + '.'
  let names: string[]
  try {
    names = await fsp.readdir(dir)
  } catch {
    return
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(n.slice(prefix.length))
    if (m && !pidAlive(Number(m[1]))) await fsp.unlink(path.join(dir, n)).catch(() => {})
  }
}

/**
 * Run `fn` while holding `<lock>.reclaim`, created exclusively. A mutex left by a process that
 * died while reclaiming is removed once its pid is gone. Gives up quietly after ~2 s: the
 * caller then simply looks at the lock again.
 */
async function withReclaimMutex(file: string, mode: number, fn: () => Promise<void>): Promise<void> {
  const mutex = `${file}.reclaim`
  for (let i = 0; i < 200; i++) {
    try {
      await createLockFile(mutex, JSON.stringify({ pid: process.pid }) + '\n', mode)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`create ${mutex}`, err)
      const raw = await readSmallFile(mutex).catch(() => undefined)
      let pid: number | undefined
      try {
        pid = (JSON.parse(raw ?? '') as { pid?: number }).pid
      } catch {}
      if (raw !== undefined && (typeof pid !== 'number' || !pidAlive(pid))) {
        const st = await fsp.lstat(mutex).catch(() => undefined)
        // Unparsable content may be a mutex being written right now: only clear it when old.
        if (typeof pid === 'number' || (st && Date.now() - st.mtimeMs > UNWRITTEN_GRACE_MS)) {
          await fsp.unlink(mutex).catch(() => {})
        }
      }
      await new Promise((r) => setTimeout(r, 10))
      continue
    }
    try {
      await fn()
    } finally {
      await fsp.unlink(mutex).catch(() => {})
    }
    return
  }
}

export type LockState =
  | { state: 'gone' }
  | { state: 'alive'; info: LockInfo | undefined; raw: string }
  | { state: 'stale'; info: LockInfo | undefined; raw: string }

/** What a lock file says about its holder, without taking it. */
export async function inspectLock(file: string): Promise<LockState> {
  let raw: string | undefined
  let st: fs.Stats
  try {
    st = await fsp.lstat(file)
    if (st.isSymbolicLink()) {
      throw new DeadLetterError('DLQ_UNSAFE_PATH', `dlq: lock ${file} is a symbolic link; refusing to follow it`)
    }
    raw = await readSmallFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'gone' }
    throw err instanceof DeadLetterError ? err : ioError(`read lock ${file}`, err)
  }
  if (raw === undefined) return { state: 'gone' }
  let info: LockInfo | undefined
  try {
    const parsed = JSON.parse(raw) as LockInfo
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') info = parsed
  } catch {}
  if (!info) {
    const young = Date.now() - st.mtimeMs < UNWRITTEN_GRACE_MS
    return young ? { state: 'alive', info, raw } : { state: 'stale', info, raw }
  }
  // A lock from another host (shared volume) cannot be checked: treat it as held.
  if (info.host !== os.hostname()) return { state: 'alive', info, raw }
  if (info.pid === process.pid) {
    return heldTokens.has(info.token) ? { state: 'alive', info, raw } : { state: 'stale', info, raw }
  }
  const bootedAt = Date.now() - os.uptime() * 1000
  if (st.mtimeMs < bootedAt - 1000) return { state: 'stale', info, raw }
  return pidAlive(info.pid) ? { state: 'alive', info, raw } : { state: 'stale', info, raw }
}

export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function holderOperation(info: LockInfo | undefined): string {
  const op = info?.operation
  return typeof op === 'string' && /^[a-z-]{1,20}$/.test(op) ? op : 'replay'
}

function lockedError(file: string, kind: LockKind, info: LockInfo | undefined): DeadLetterError {
  const who = info ? `pid ${info.pid}${info.host !== os.hostname() ? ` on ${info.host}` : ''}` : 'another process'
  const err = new DeadLetterError(
    kind === 'writer' ? 'DLQ_LOCKED' : 'DLQ_REPLAY_LOCKED',
    kind === 'writer'
      ? `dlq: ${file} is held by ${who}; only one writer per log`
      : `dlq: a ${holderOperation(info)} of this log is already running (${who}, lock ${file})`,
  )
  ;(err as DeadLetterError & { pid?: number }).pid = info?.pid
  return err
}
