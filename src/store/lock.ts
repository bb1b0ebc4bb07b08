/**
 * Cross-process ownership: one writer per log path, one replayer per log path, and a short
 * seal lock for a process sealing an orphaned active file.
 *
 * A lock is a file created exclusively (link() of a written temp file) holding the owner's
 * identity (host, pid, boot id and process start time: see process-identity.ts) and a random
 * token. A lock whose holder is gone is stale and reclaimed; whether it is gone never depends
 * on the wall clock. Node has no flock(), so this is the portable option. Reclaimers take a
 * mutex file and re-read the lock inside it, so two of them can never both win.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { DeadLetterError, ioError } from '../base/errors.js'
import { CREATE_EXCL_FLAGS, readSmallFile, unlinkIfExists } from '../base/fs-safe.js'
import { holderAlive, pidExists, type ProcessIdentity, selfIdentity } from './process-identity.js'

export interface LockInfo extends ProcessIdentity {
  token: string
  /** When it was taken (wall clock): shown to people, never used to judge liveness. */
  since: number
  kind: string
  /** What holds a replay lock (replay, requeue, purge), so a refusal names the right thing. */
  operation?: string
}

/**
 * 'writer': a Logger. 'replay': a replay (or a CLI rewrite). 'sealer': a process sealing an
 * orphaned active file (no live writer) for a moment; Logger.open waits for it.
 */
export type LockKind = 'writer' | 'replay' | 'sealer'

/** What a DLQ_LOCKED / DLQ_REPLAY_LOCKED error says about the holder, also as properties. */
export interface LockHolderProps {
  pid?: number
  host?: string
  /** What the holder is doing: 'writer', 'sealer', 'replay' (undefined when unreadable). */
  holderKind?: string
  /** True when the holder only holds it for a moment (a sealer), so trying again later works. */
  transient: boolean
}

/**
 * The locks this process holds, token → lock file. A lock naming our own pid with another
 * token was left by an earlier process that had the same pid: in a container, PID 1 after a
 * restart.
 */
const heldTokens = new Map<string, string>()

function hold(token: string, file: string): void {
  if (heldTokens.size === 0) process.on('exit', releaseAllSync)
  heldTokens.set(token, file)
}

function unhold(token: string): void {
  if (heldTokens.delete(token) && heldTokens.size === 0) process.off('exit', releaseAllSync)
}

/**
 * At exit (process.exit, the end of the event loop, an uncaught exception) nothing of this
 * process runs any more: a lock still carrying our token goes with it, so the next process
 * finds none instead of a stale one. SIGKILL leaves it behind, to be judged stale.
 */
function releaseAllSync(): void {
  for (const [token, file] of heldTokens) {
    try {
      if (fs.readFileSync(file, 'utf8').includes(token)) fs.unlinkSync(file)
    } catch {}
  }
}

/** A lock file without valid content younger than this is assumed to be mid-creation. */
const UNWRITTEN_GRACE_MS = 10_000
/** How long acquire() waits by default for another process reclaiming the same stale lock. */
const DEFAULT_RECLAIM_WAIT_MS = 5_000

export interface AcquireOptions {
  /** Longest wait (ms) for another process that is reclaiming the same stale lock. */
  waitMs?: number
  /** What takes a replay lock (replay, requeue, purge, ship), so a refusal names the right thing. */
  operation?: string
}

export class FileLock {
  readonly file: string
  readonly info: LockInfo
  private readonly mode: number
  private released = false

  private constructor(file: string, info: LockInfo, mode: number) {
    this.file = file
    this.info = info
    this.mode = mode
  }

  /**
   * Take the lock or throw DLQ_LOCKED / DLQ_REPLAY_LOCKED naming the holder. A stale lock
   * (its holder is gone) is reclaimed; a live one is never waited for here.
   */
  static async acquire(file: string, kind: LockKind, mode: number, opts: AcquireOptions = {}): Promise<FileLock> {
    const info: LockInfo = {
      ...selfIdentity(),
      token: randomBytes(8).toString('hex'),
      since: Date.now(),
      kind,
      ...(opts.operation !== undefined && { operation: opts.operation }),
    }
    const content = JSON.stringify(info) + '\n'
    for (let tries = 0; tries < 5; tries++) {
      let won = await tryCreate(file, content, mode)
      if (!won) {
        const holder = await inspectLock(file)
        if (holder.state === 'alive') throw lockedError(file, kind, holder.info)
        if (holder.state === 'stale') won = await replaceStale(file, holder.raw, content, mode, opts.waitMs ?? DEFAULT_RECLAIM_WAIT_MS)
      }
      if (won) {
        hold(info.token, file)
        await removeStaleTemps(file)
        return new FileLock(file, info, mode)
      }
    }
    throw new DeadLetterError(kind === 'replay' ? 'DLQ_REPLAY_LOCKED' : 'DLQ_LOCKED', `dlq: could not take ${file} (contended)`)
  }

  /**
   * Make sure the lock file still names us: re-create it when it was deleted (or when whoever
   * replaced it is gone too). Returns 'held', or 'lost' when a live process holds it now —
   * or when others keep taking it while we try (it changed under us in 5 rounds, or a live
   * reclaimer held its mutex past DEFAULT_RECLAIM_WAIT_MS): a writer that cannot show the lock
   * is its own must stop acknowledging records, and DLQ_LOCKED is what open() answers, not log().
   */
  async ensureHeld(): Promise<{ state: 'held'; restored: boolean } | { state: 'lost'; error: DeadLetterError }> {
    try {
      return await this.reassert()
    } catch (err) {
      if (!(err instanceof DeadLetterError) || err.code !== 'DLQ_LOCKED') throw err
      const lost = new DeadLetterError(
        'DLQ_LOCK_LOST',
        `dlq: could not re-establish the writer lock ${this.file}: ${err.message.replace(/^dlq: /, '')}; this logger no longer owns the log and accepts no more records`,
        { cause: err },
      )
      // The holder the DLQ_LOCKED error named goes on to the error it becomes.
      const { pid, host, holderKind } = err as DeadLetterError & Partial<LockHolderProps>
      return { state: 'lost', error: Object.assign(lost, { pid, host, holderKind, transient: false }) }
    }
  }

  private async reassert(): Promise<{ state: 'held'; restored: boolean } | { state: 'lost'; error: DeadLetterError }> {
    const content = JSON.stringify(this.info) + '\n'
    for (let tries = 0; tries < 5; tries++) {
      if (this.released) return { state: 'held', restored: false }
      const now = await inspectLock(this.file)
      if (now.state !== 'gone' && now.raw.includes(this.info.token)) return { state: 'held', restored: false }
      // Unreadable and young: being written (no-hard-link fallback) or damaged. Decide on a
      // later check, once it is readable or old enough to be stale.
      if (now.state === 'alive' && now.info === undefined) return { state: 'held', restored: false }
      if (now.state === 'alive') return { state: 'lost', error: lockLostError(this.file, now.info) }
      const ours = now.state === 'gone' ? await tryCreate(this.file, content, this.mode) : await replaceStale(this.file, now.raw, content, this.mode, DEFAULT_RECLAIM_WAIT_MS)
      if (!ours) continue
      // close() may have released the lock while we were re-creating it: take ours away again.
      if (this.released) await this.release()
      return { state: 'held', restored: true }
    }
    throw new DeadLetterError('DLQ_LOCKED', `dlq: could not re-establish the writer lock ${this.file} (contended)`)
  }

  /** Only removes the file while it is still ours. */
  async release(): Promise<void> {
    this.released = true
    unhold(this.info.token)
    const raw = await readSmallFile(this.file).catch(() => undefined)
    if (raw !== undefined && raw.includes(this.info.token)) await fsp.unlink(this.file).catch(() => {})
  }
}

/**
 * Take over a stale lock under the reclaim mutex, re-checking inside it that it is still the
 * lock judged stale (another reclaimer may have replaced it with a live one meanwhile).
 */
function replaceStale(file: string, staleRaw: string, content: string, mode: number, waitMs: number): Promise<boolean> {
  return withReclaimMutex(file, mode, waitMs, async () => {
    if ((await readSmallFile(file)) !== staleRaw) return false
    await unlinkIfExists(file).catch((err) => {
      throw ioError(`remove stale lock ${file}`, err)
    })
    return tryCreate(file, content, mode)
  })
}

/** Create the lock exclusively; false when it exists already. */
async function tryCreate(file: string, content: string, mode: number): Promise<boolean> {
  try {
    await createLockFile(file, content, mode)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw ioError(`create lock ${file}`, err)
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
      // Content before name: after a power cut the lock must not be there empty or torn,
      // which reads as a lock being written and refuses every start for a while.
      await fh.sync()
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
  for (const n of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (!n.startsWith(prefix)) continue
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(n.slice(prefix.length))
    if (m && !pidExists(Number(m[1]))) await fsp.unlink(path.join(dir, n)).catch(() => {})
  }
}

/**
 * Callers in this process queue here per lock file, so they never poll for each other's
 * reclaim mutex (polling under CPU load is what made concurrent reclaimers flaky).
 */
const localQueues = new Map<string, Promise<void>>()

async function inLocalQueue<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = localQueues.get(key) ?? Promise.resolve()
  let done!: () => void
  const tail = prev.then(() => new Promise<void>((resolve) => (done = resolve)))
  localQueues.set(key, tail)
  await prev
  try {
    return await fn()
  } finally {
    done()
    if (localQueues.get(key) === tail) localQueues.delete(key)
  }
}

/**
 * Run `fn` while holding `<lock>.reclaim`, created exclusively and naming its holder like a
 * lock does. A mutex whose holder is gone is removed. Another process holding it is waited
 * for up to `waitMs` (monotonic clock); after that the caller gets DLQ_LOCKED naming it, never
 * a silent give-up.
 */
async function withReclaimMutex<T>(file: string, mode: number, waitMs: number, fn: () => Promise<T>): Promise<T> {
  return inLocalQueue(file, async () => {
    const mutex = `${file}.reclaim`
    const content = JSON.stringify(selfIdentity()) + '\n'
    const deadline = performance.now() + waitMs
    let wait = 2
    for (;;) {
      if (await tryCreate(mutex, content, mode)) break
      const holder = await inspectMutex(mutex)
      if (holder.state === 'stale') {
        // Re-read before removing: a new holder may have replaced the dead one's file.
        if ((await readSmallFile(mutex).catch(() => undefined)) === holder.raw) await unlinkIfExists(mutex).catch(() => {})
        continue
      }
      if (holder.state === 'gone') continue
      if (performance.now() >= deadline) {
        const err = new DeadLetterError(
          'DLQ_LOCKED',
          `dlq: could not reclaim the stale lock ${file}: ${describeHolder(holder.info)} has held its reclaim mutex ${mutex} for over ${waitMs} ms`,
        )
        throw Object.assign(err, holderProps(holder.info, true))
      }
      await new Promise((r) => setTimeout(r, wait))
      wait = Math.min(wait * 2, 50)
    }
    try {
      return await fn()
    } finally {
      await unlinkIfExists(mutex).catch(() => {})
    }
  })
}

async function inspectMutex(mutex: string): Promise<LockState> {
  const s = await inspectLock(mutex)
  if (s.state === 'gone' || s.info !== undefined) {
    // Our own pid: a mutex of this process left by a reclaim we are not running (inLocalQueue
    // serialises ours), so it is stale.
    return s.state !== 'gone' && s.info?.pid === process.pid ? { ...s, state: 'stale' } : s
  }
  // Older versions wrote only { pid }: judge it by a pid probe.
  let pid: unknown
  try {
    pid = (JSON.parse(s.raw) as { pid?: unknown }).pid
  } catch {}
  if (typeof pid !== 'number') return s
  const info = { pid, host: os.hostname(), token: '', since: 0, kind: 'reclaim' }
  return { state: pid !== process.pid && pidExists(pid) ? 'alive' : 'stale', info, raw: s.raw }
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
  if (!info) return (await unwrittenLockIsStale(file, raw, st)) ? { state: 'stale', info, raw } : { state: 'alive', info, raw }
  if (info.pid === process.pid && info.host === os.hostname()) {
    return heldTokens.has(info.token) ? { state: 'alive', info, raw } : { state: 'stale', info, raw }
  }
  return holderAlive(info) ? { state: 'alive', info, raw } : { state: 'stale', info, raw }
}

/**
 * A lock without readable content names no holder to check. Locks are linked into place
 * complete, so this is a damaged file — except on a file system without hard links, where
 * the fallback creates then writes and a reader can see it empty for a moment. So: stale only
 * when its mtime is old AND it is still the same after a short wait measured on the monotonic
 * clock (a forward clock step alone can never break a lock being written).
 */
async function unwrittenLockIsStale(file: string, raw: string, st: fs.Stats): Promise<boolean> {
  if (Date.now() - st.mtimeMs < UNWRITTEN_GRACE_MS) return false
  await new Promise((r) => setTimeout(r, 100))
  const again = await fsp.lstat(file).catch(() => undefined)
  const rawAgain = await readSmallFile(file).catch(() => undefined)
  return again !== undefined && again.ino === st.ino && again.size === st.size && rawAgain === raw
}

function describeHolder(info: LockInfo | undefined, withKind = true): string {
  if (!info) return 'another process (unreadable lock)'
  const kind = withKind && typeof info.kind === 'string' ? ` (${info.kind})` : ''
  return `pid ${info.pid}${info.host !== os.hostname() ? ` on ${info.host}` : ''}${kind}`
}

function holderProps(info: LockInfo | undefined, transient: boolean): LockHolderProps {
  return { pid: info?.pid, host: info?.host, holderKind: typeof info?.kind === 'string' ? info.kind : undefined, transient }
}

/**
 * DLQ_LOCKED (writer, sealer) or DLQ_REPLAY_LOCKED naming the holder; `transient` says whether
 * waiting helps (a sealer holds its lock for a moment, a writer for its lifetime).
 */
export function lockedError(file: string, kind: LockKind, info: LockInfo | undefined, waitedMs?: number): DeadLetterError {
  const who = describeHolder(info, kind !== 'replay')
  const transient = info?.kind === 'sealer'
  let message: string
  if (kind === 'replay') {
    message = `dlq: a ${holderOperation(info)} of this log is already running (${who}, lock ${file})`
  } else if (transient) {
    message =
      `dlq: ${file} is held by ${who}, sealing an orphaned active file; this is transient` +
      (waitedMs !== undefined ? ` but did not end within openTimeout (${waitedMs} ms)` : '') +
      '; try again'
  } else {
    message = `dlq: ${file} is held by ${who}; not transient: only one writer per log`
  }
  const err = new DeadLetterError(kind === 'replay' ? 'DLQ_REPLAY_LOCKED' : 'DLQ_LOCKED', message)
  return Object.assign(err, holderProps(info, transient))
}

function lockLostError(file: string, info: LockInfo | undefined): DeadLetterError {
  const err = new DeadLetterError(
    'DLQ_LOCK_LOST',
    `dlq: the writer lock ${file} was taken over by ${describeHolder(info)}; this logger no longer owns the log and accepts no more records`,
  )
  return Object.assign(err, holderProps(info, false))
}

/**
 * The seal lock of a log, `.orders.log.seal-lock`. Not `….lock`: that would be the writer
 * lock of a log named `orders.log.seal`.
 */
export function sealLockPath(writerLock: string): string {
  return writerLock.replace(/\.lock$/, '.seal-lock')
}

/**
 * Poll a lock until no live process holds it or `waitMs` (monotonic) ran out; returns the
 * last state seen ('alive' only on timeout).
 */
export async function waitWhileHeld(file: string, waitMs: number, signal?: AbortSignal): Promise<LockState> {
  const deadline = performance.now() + waitMs
  let wait = 2
  for (;;) {
    const s = await inspectLock(file)
    if (s.state !== 'alive' || performance.now() >= deadline || signal?.aborted) return s
    await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(1, deadline - performance.now()))))
    wait = Math.min(wait * 2, 50)
  }
}

function holderOperation(info: LockInfo | undefined): string {
  const op = info?.operation
  return typeof op === 'string' && /^[a-z-]{1,20}$/.test(op) ? op : 'replay'
}
