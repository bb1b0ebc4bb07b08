/**
 * Files a replayer appends to: its own retry and permanent segments (named in the `rN`
 * namespace, created with O_EXCL so they never collide with anyone's) and the corrupt
 * quarantine. Bytes are buffered and written in large chunks; `sync()` makes everything
 * appended so far durable, and replay calls it before every checkpoint.
 */
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { ioError } from '../base/errors.js'
import { APPEND_FLAGS, CREATE_EXCL_FLAGS, fsyncDir } from '../base/fs-safe.js'
import { ByteSink } from '../format/sink.js'
import { type SegmentFamily, maxSeq, segmentName } from './segments.js'

const fsyncP = promisify(fs.fsync)
const FLUSH_AT = 1024 * 1024

export class OutputFile {
  /** Path once created. */
  file: string | undefined
  readonly sink = new ByteSink(256 * 1024)
  private fd: number | undefined
  /** Bytes known to be completely written; a failed write is truncated back to this. */
  private good = 0
  /** Bumped by every write; sync() only calls the file clean if none happened during its fsync. */
  private writes = 0
  private synced = 0
  private opening: Promise<void> | undefined
  records = 0
  /**
   * Called once the file exists (with its size: a shared file already holds records) and
   * before a byte is written to it: replay names the file in a checkpoint here, so recovery
   * can always cut it back, and never below what it held.
   */
  onOpen: ((file: string, size: number) => void | Promise<void>) | undefined

  constructor(
    private readonly create: () => Promise<{ file: string; fd: number }>,
    private readonly dir: string,
  ) {}

  /** For a segment in a family: a fresh `rN` name, created exclusively. */
  static segment(fam: SegmentFamily, mode: number): OutputFile {
    return new OutputFile(async () => {
      let seq = (await maxSeq(fam, 'replayer')) + 1
      for (;;) {
        const file = path.join(fam.dir, segmentName(fam, 'replayer', seq))
        try {
          return { file, fd: fs.openSync(file, CREATE_EXCL_FLAGS | fs.constants.O_APPEND, mode) }
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`create ${file}`, err)
          seq++
        }
      }
    }, fam.dir)
  }

  /**
   * A single shared file appended to by whoever holds the replay lock; with `flags`
   * (CREATE_EXCL_FLAGS: a rewrite's temp file, src/store/temp-output.ts), opened so.
   */
  static shared(file: string, mode: number, flags = APPEND_FLAGS): OutputFile {
    return new OutputFile(async () => {
      try {
        return { file, fd: fs.openSync(file, flags, mode) }
      } catch (err) {
        throw ioError(`open ${file}`, err)
      }
    }, path.dirname(file))
  }

  /** Buffered append of whole lines; writes through when the buffer is large. */
  append(write: (sink: ByteSink) => void): void | Promise<void> {
    write(this.sink)
    this.records++
    // Only a flush makes this asynchronous: most appends cost no promise.
    if (this.sink.len >= FLUSH_AT) return this.flush()
  }

  /**
   * Create (or open) the file now. Replay does this before its first checkpoint, so every
   * output file is named in a checkpoint before a byte goes into it.
   */
  open(): Promise<void> {
    this.opening ??= (async () => {
      const { file, fd } = await this.create()
      this.file = file
      this.fd = fd
      this.good = fs.fstatSync(fd).size
      await fsyncDir(this.dir)
      await this.onOpen?.(file, this.good)
    })()
    return this.opening
  }

  async flush(): Promise<void> {
    if (this.sink.len === 0) return
    if (this.fd === undefined) await this.open()
    if (this.sink.len === 0) return // a concurrent flush took it while the file was being created
    const fd = this.fd!
    const buf = this.sink.view()
    let off = 0
    try {
      while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off)
    } catch (err) {
      // Leave no partial line: the items behind it are not checkpointed and will be redone.
      try {
        fs.ftruncateSync(fd, this.good)
      } catch {}
      this.sink.reset()
      throw ioError(`write ${this.file}`, err)
    }
    this.good += buf.length
    this.sink.reset()
    this.writes++
  }

  /** Offset in the file at which the next appended byte will land. */
  position(): number {
    return this.good + this.sink.len
  }

  /** Something appended is not yet on stable storage. */
  needsSync(): boolean {
    return this.sink.len > 0 || this.writes !== this.synced
  }

  /** Name and durable size, for the checkpoint; undefined until the file exists. */
  mark(): { file: string; size: number } | undefined {
    return this.file === undefined ? undefined : { file: path.basename(this.file), size: this.good }
  }

  /** Everything appended so far is on stable storage when this resolves. */
  async sync(): Promise<void> {
    await this.flush()
    if (this.fd !== undefined && this.writes !== this.synced) {
      const upTo = this.writes
      try {
        await fsyncP(this.fd)
      } catch (err) {
        throw ioError(`fsync ${this.file}`, err)
      }
      this.synced = Math.max(this.synced, upTo)
    }
  }

  /** After close(): remove the file when nothing was ever written to it. */
  removeIfEmpty(): void {
    if (this.file === undefined || this.fd !== undefined) return
    try {
      if (fs.lstatSync(this.file).size === 0) fs.unlinkSync(this.file)
    } catch {}
  }

  async close(): Promise<void> {
    try {
      await this.sync()
    } finally {
      if (this.fd !== undefined) {
        fs.closeSync(this.fd)
        this.fd = undefined
      }
    }
  }

  /** Discard buffered bytes and close without writing (after a failure). */
  abandon(): void {
    this.sink.reset()
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd)
      } catch {}
      this.fd = undefined
    }
  }
}

/**
 * A crash while a replayer was appending can leave a partial last line in its own files.
 * That line belongs to an item that was not checkpointed (it will be redone), so cutting it
 * off loses nothing and keeps the files clean.
 */
export function truncateTornTail(file: string): boolean {
  let fd: number | undefined
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | (fs.constants.O_NOFOLLOW ?? 0))
    const size = fs.fstatSync(fd).size
    if (size === 0) return false
    const tail = Buffer.alloc(Math.min(size, 64 * 1024))
    let end = size
    for (;;) {
      const start = Math.max(0, end - tail.length)
      const n = fs.readSync(fd, tail, 0, end - start, start)
      const idx = tail.subarray(0, n).lastIndexOf(0x0a)
      if (idx !== -1) {
        const keep = start + idx + 1
        if (keep === size) return false
        fs.ftruncateSync(fd, keep)
        return true
      }
      if (start === 0) {
        fs.ftruncateSync(fd, 0)
        return true
      }
      end = start
    }
  } catch {
    return false
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}
