/**
 * An over-limit line is never cut down to its head: its bytes stream into a file of their
 * own, `corrupt-<segment>.<offset>.line`, named by position so a redo after a crash rewrites
 * the same file. It is made durable before the quarantine record that names it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { ioError } from '../base/errors.js'
import { O_NOFOLLOW, fsyncDirSync } from '../base/fs-safe.js'

export class OversizedKeeper {
  private current: { segment: string; offset: number; file: string; fd: number } | undefined

  constructor(
    private readonly dir: string,
    private readonly mode: number,
  ) {}

  /** The next piece of the line at `offset` of `segment`, in order (copied at once). */
  write(segment: string, offset: number, piece: Buffer): void {
    let k = this.current
    if (k === undefined || k.offset !== offset || k.segment !== segment) {
      if (k) this.finish()
      const file = path.join(this.dir, `corrupt-${segment}.${offset}.line`)
      try {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | O_NOFOLLOW, this.mode)
        k = this.current = { segment, offset, file, fd }
      } catch (err) {
        throw ioError(`create ${file}`, err)
      }
    }
    let off = 0
    try {
      while (off < piece.length) off += fs.writeSync(k.fd, piece, off, piece.length - off)
    } catch (err) {
      throw ioError(`write ${k.file}`, err)
    }
  }

  /** Sync and close the file of the line just read; its name, for the record. */
  finish(): string | undefined {
    const k = this.current
    if (!k) return undefined
    this.current = undefined
    try {
      fs.fsyncSync(k.fd)
    } catch (err) {
      fs.closeSync(k.fd)
      throw ioError(`fsync ${k.file}`, err)
    }
    fs.closeSync(k.fd)
    fsyncDirSync(this.dir)
    return path.basename(k.file)
  }

  /** After a failure: close without syncing. */
  abandon(): void {
    if (this.current) {
      try {
        fs.closeSync(this.current.fd)
      } catch {}
      this.current = undefined
    }
  }
}
