/**
 * Appends encoded envelopes to one segment family (retry or permanent) with group commit.
 *
 * Records are encoded straight into `sink`. One write is in flight at a time; everything
 * that accumulates meanwhile goes out as the next single joined write (and in fsync mode a
 * single fsync), and every caller in that batch shares one promise.
 *
 * rotating-file-stream does size and interval rotation with our name generator. We keep our
 * own descriptor (`ctl`) on the active file's inode because rfs neither fsyncs nor checks
 * short writes (a full disk can cut a write short without an error): after each write we
 * fstat that inode, truncate back a partial batch, and fsync it in fsync mode. Manual
 * sealing never calls rfs's private rotate(): we end the stream, rename the file ourselves
 * and start a new stream.
 */
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { createStream, type RotatingFileStream } from 'rotating-file-stream'
import { DeadLetterError, ioError } from './errors.js'
import { APPEND_FLAGS, fsyncDir } from './fs-safe.js'
import { ByteSink } from './sink.js'
import {
  type SegmentFamily,
  isolateTornTail,
  maxSeq,
  recoverSegments,
  sealActiveFile,
  segmentName,
} from './segments.js'
import type { Durability } from './options.js'

const fstat = promisify(fs.fstat)
const fsync = promisify(fs.fsync)
const ftruncate = promisify(fs.ftruncate)
const openFd = promisify(fs.open)
const closeFd = promisify(fs.close)

const WAKE_PER_WRITE = 1024

export interface WriterConfig {
  durability: Durability
  rotateSize: number
  rotateInterval: string | undefined
  mode: number
  dirMode: number
  maxBufferedBytes: number
}

export interface WriterHooks {
  /** A segment was sealed (by size/interval rotation or by seal()). */
  onSealed(sealedPath: string): void
  onWarning(message: string, err?: unknown): void
}

interface Batch {
  promise: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

function newBatch(): Batch {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A batch may fail with nobody awaiting one of its callers; the caller's own await still sees it.
  promise.catch(() => {})
  return { promise, resolve, reject }
}

export class SegmentWriter {
  readonly fam: SegmentFamily
  private readonly cfg: WriterConfig
  private readonly hooks: WriterHooks

  /** Records accepted and not yet handed to a write. Callers encode into it directly. */
  sink = new ByteSink()
  private spare = new ByteSink()
  private batch: Batch | undefined

  private stream: RotatingFileStream | undefined
  private streamError: Error | undefined
  private ctl: number | undefined
  private ctlSize = 0
  private seq = 0
  /** Counts rotation starts/ends inside rfs, so a write that raced one takes the careful path. */
  private rotEvents = 0
  private rotating = false

  private chain: Promise<void> = Promise.resolve()
  private writeQueued = false
  private waiters: Array<() => void> = []
  private closed = false
  /** Bytes written to the family's files by this writer since open (for size caps). */
  bytesWritten = 0

  constructor(fam: SegmentFamily, cfg: WriterConfig, hooks: WriterHooks) {
    this.fam = fam
    this.cfg = cfg
    this.hooks = hooks
  }

  async open(): Promise<void> {
    const { fam } = this
    try {
      fs.mkdirSync(fam.dir, { recursive: true, mode: this.cfg.dirMode })
    } catch (err) {
      throw ioError(`create directory ${fam.dir}`, err)
    }
    const rec = await recoverSegments(fam)
    for (const n of rec.removedTmp) this.hooks.onWarning(`removed partial compressed file ${n} left by a crash`)
    for (const n of rec.removedDuplicates) this.hooks.onWarning(`removed ${n}: its compressed copy is complete`)
    this.seq = await maxSeq(fam, 'writer')
    if (await isolateTornTail(fam.active)) {
      this.hooks.onWarning(`isolated a torn last line in ${fam.active} (left by a crash); replay will quarantine it`)
    }
    await this.startStream()
    this.pendingCompress = rec.uncompressed
  }

  /** Sealed-but-uncompressed segments found at open; the logger compresses them when asked to. */
  pendingCompress: string[] = []

  // ------------------------------------------------------------------ hot path

  /** Bytes accepted but not yet written: when at the limit, callers must wait(). */
  get full(): boolean {
    return this.sink.len >= this.cfg.maxBufferedBytes || this.waiters.length > 0
  }

  /** Resolves when there is room in the buffer again (FIFO). */
  waitForRoom(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve)
      this.queueWrite()
    })
  }

  /** Called after a record was encoded into `sink`; returns its batch's promise. */
  commit(): Promise<void> {
    let b = this.batch
    if (b === undefined) b = this.batch = newBatch()
    if (!this.writeQueued) this.queueWrite()
    return b.promise
  }

  /** Resolves when everything committed before the call is written (and synced in fsync mode). */
  flush(): Promise<void> {
    if (this.sink.len > 0) this.queueWrite()
    return this.chain
  }

  private queueWrite(): void {
    if (this.writeQueued) return
    this.writeQueued = true
    this.chain = this.chain.then(this.writeOnce)
  }

  private readonly writeOnce = async (): Promise<void> => {
    this.writeQueued = false
    const full = this.sink
    const batch = this.batch
    this.batch = undefined
    if (full.len === 0) {
      batch?.resolve()
      this.wakeWaiters()
      return
    }
    this.sink = this.spare
    this.spare = full
    try {
      await this.writeBuffer(full.view())
      this.bytesWritten += full.len
      batch?.resolve()
    } catch (err) {
      batch?.reject(err)
    } finally {
      full.reset()
      this.wakeWaiters()
    }
  }

  private wakeWaiters(): void {
    // Woken callers encode later (in their own microtasks), so the buffer cannot tell us how
    // many fit: admit a bounded number per completed write to keep the buffer near its limit.
    let n = 0
    while (this.waiters.length > 0 && this.sink.len < this.cfg.maxBufferedBytes && n++ < WAKE_PER_WRITE) {
      this.waiters.shift()!()
    }
    if (this.waiters.length > 0) this.queueWrite()
  }

  // ------------------------------------------------------------------ I/O

  private async writeBuffer(buf: Buffer): Promise<void> {
    if (this.stream === undefined || this.streamError !== undefined) await this.restartStream()
    const stream = this.stream!
    const fd0 = this.ctl!
    const size0 = this.ctlSize
    const rot0 = this.rotEvents
    const racedRotation = this.rotating
    let writeErr: unknown
    await new Promise<void>((resolve) => {
      stream.write(buf, (err) => {
        writeErr = err ?? undefined
        resolve()
      })
    })
    if (writeErr === undefined && this.streamError !== undefined) writeErr = this.streamError
    if (!racedRotation && this.rotEvents === rot0) {
      const st = await fstat(fd0)
      if (writeErr !== undefined || st.size < size0 + buf.length) {
        // Remove the partial batch so no torn record is left behind, then report.
        if (st.size > size0) await ftruncate(fd0, size0).catch(() => {})
        this.ctlSize = size0
        this.streamError ??= writeErr instanceof Error ? writeErr : new Error('short write')
        throw ioError(`write ${this.fam.active}`, writeErr ?? Object.assign(new Error('ENOSPC: short write, no space left on device'), { code: 'ENOSPC' }))
      }
      this.ctlSize = st.size
      if (this.cfg.durability === 'fsync') await fsync(fd0).catch((err) => Promise.reject(ioError(`fsync ${this.fam.active}`, err)))
      return
    }
    // A rotation ran around this write: the bytes are in the old inode (size rotation after the
    // write) or the new one (interval rotation before it). Check and sync both.
    const fd1 = await openFd(this.fam.active, APPEND_FLAGS, this.cfg.mode)
    const [oldSt, newSt] = await Promise.all([fstat(fd0), fstat(fd1)])
    const landed = oldSt.ino !== newSt.ino && (oldSt.size >= size0 + buf.length || newSt.size >= buf.length)
    const sameFile = oldSt.ino === newSt.ino && oldSt.size >= size0 + buf.length
    if (writeErr !== undefined || !(landed || sameFile)) {
      await closeFd(fd1).catch(() => {})
      this.streamError ??= writeErr instanceof Error ? writeErr : new Error('short write')
      throw ioError(`write ${this.fam.active}`, writeErr ?? Object.assign(new Error('ENOSPC: short write during rotation'), { code: 'ENOSPC' }))
    }
    if (this.cfg.durability === 'fsync') {
      await Promise.all([fsync(fd0), fsync(fd1)])
      await fsyncDir(this.fam.dir)
    }
    if (oldSt.ino !== newSt.ino) {
      await closeFd(fd0).catch(() => {})
      this.ctl = fd1
      this.ctlSize = newSt.size
    } else {
      await closeFd(fd1).catch(() => {})
      this.ctlSize = oldSt.size
    }
  }

  private async startStream(): Promise<void> {
    const { fam, cfg } = this
    let fd: number
    try {
      fd = await openFd(fam.active, APPEND_FLAGS, cfg.mode)
    } catch (err) {
      throw ioError(`open ${fam.active}`, err)
    }
    const st = await fstat(fd)
    if (!st.isFile()) {
      await closeFd(fd)
      throw new DeadLetterError('DLQ_UNSAFE_PATH', `dlq: ${fam.active} is not a regular file`)
    }
    this.ctl = fd
    this.ctlSize = st.size
    this.streamError = undefined
    const activeName = path.basename(fam.active)
    const stream = createStream((time) => (time ? segmentName(fam, 'writer', ++this.seq) : activeName), {
      path: fam.dir,
      mode: cfg.mode,
      ...(cfg.rotateSize > 0 ? { size: `${cfg.rotateSize}B` } : {}),
      ...(cfg.rotateInterval ? { interval: cfg.rotateInterval } : {}),
    })
    stream.on('error', (err) => {
      this.streamError = err
    })
    stream.on('warning', (err) => this.hooks.onWarning(`rotating-file-stream warning: ${err.message}`, err))
    stream.on('rotation', () => {
      this.rotEvents++
      this.rotating = true
    })
    stream.on('rotated', (sealed: string) => this.hooks.onSealed(sealed))
    await new Promise<void>((resolve, reject) => {
      const onOpen = () => {
        stream.off('error', onErr)
        resolve()
      }
      const onErr = (err: Error) => {
        stream.off('open', onOpen)
        reject(ioError(`open ${fam.active}`, err))
      }
      stream.once('open', onOpen)
      stream.once('error', onErr)
    })
    stream.on('open', () => {
      this.rotEvents++
      this.rotating = false
    })
    this.stream = stream
  }

  private async stopStream(): Promise<void> {
    const stream = this.stream
    this.stream = undefined
    if (stream) {
      if (!stream.destroyed) {
        await new Promise<void>((resolve) => {
          stream.once('close', resolve)
          stream.once('error', () => resolve())
          stream.end()
        })
      }
    }
    if (this.ctl !== undefined) {
      const fd = this.ctl
      this.ctl = undefined
      await closeFd(fd).catch(() => {})
    }
  }

  /** After a write error rfs destroys its stream; a new one lets logging resume (e.g. once disk space is freed). */
  private async restartStream(): Promise<void> {
    await this.stopStream()
    await this.startStream()
  }

  // ------------------------------------------------------------------ sealing & closing

  /** Seal the active segment now; resolves to its new path, or null when it was empty. */
  seal(): Promise<string | null> {
    if (this.closed) return Promise.resolve(null)
    let result: string | null = null
    if (this.sink.len > 0) this.queueWrite()
    const op = this.chain.then(async () => {
      await this.stopStream()
      try {
        result = await sealActiveFile(this.fam, async () => {
          // Names may have been taken by a sealing replayer while no writer was alive.
          this.seq = Math.max(this.seq, await maxSeq(this.fam, 'writer')) + 1
          return this.seq
        })
      } finally {
        await this.startStream()
      }
      if (result) this.hooks.onSealed(result)
    })
    this.chain = op.catch(() => {})
    return op.then(() => result)
  }

  async close(): Promise<void> {
    if (this.closed) return this.chain
    this.closed = true
    while (this.waiters.length > 0 || this.sink.len > 0) {
      this.queueWrite()
      await this.chain
    }
    await this.chain
    await this.stopStream()
  }

  /** Size of the active segment as last observed. */
  get activeSize(): number {
    return this.ctlSize + this.sink.len
  }
}
