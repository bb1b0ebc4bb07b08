/**
 * Small durable-file primitives shared by segments, checkpoints, locks and the writer.
 * Everything we open is opened with O_NOFOLLOW: a symlink planted at one of our paths
 * must not redirect our writes (payloads often hold personal data).
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { ioError } from './errors.js'

export const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0

/** Flags for an append-only data file we create if needed. */
export const APPEND_FLAGS = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND | O_NOFOLLOW
export const CREATE_EXCL_FLAGS =
  fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW

/** Some file systems refuse fsync on directories; the rename itself is still atomic. */
const refusesDirSync = (err: unknown): boolean => ['EINVAL', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '')

/** fsync a directory so a rename or unlink inside it survives power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(dir, fs.constants.O_RDONLY)
    await fh.sync()
  } catch (err) {
    if (!refusesDirSync(err)) throw err
  } finally {
    await fh?.close()
  }
}

export function fsyncDirSync(dir: string): void {
  let fd: number | undefined
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY)
    fs.fsyncSync(fd)
  } catch (err) {
    if (!refusesDirSync(err)) throw err
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

let tmpCounter = 0

/**
 * The pid in `name` when it is a temp file writeFileAtomic(`<dir>/<file>`) left behind (a
 * crash between creating and renaming it); undefined for any other name.
 */
export function atomicTempPid(file: string, name: string): number | undefined {
  if (!name.startsWith(`${file}.tmp-`)) return undefined
  const m = /^(\d+)-\d+$/.exec(name.slice(file.length + 5))
  return m ? Number(m[1]) : undefined
}

/**
 * Replace `file` atomically: write a temp file, fsync it, rename over the target, fsync the
 * directory. A reader sees the old content or the new one, never a mix, even after power loss.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${++tmpCounter}`
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(tmp, CREATE_EXCL_FLAGS, mode)
    await fh.writeFile(data)
    await fh.sync()
    await fh.close()
    fh = undefined
    await fsp.rename(tmp, file)
  } catch (err) {
    await fh?.close().catch(() => {})
    await fsp.unlink(tmp).catch(() => {})
    throw err
  }
  await fsyncDir(path.dirname(file))
}

/** Read a small file without following a symlink; undefined when it does not exist. */
export async function readSmallFile(file: string): Promise<string | undefined> {
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
    return await fh.readFile('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw ioError(`read ${file}`, err)
  } finally {
    await fh?.close()
  }
}

/**
 * `mkdir -p`, reporting the real reason a level cannot be created: Node's recursive mkdir
 * answers ENOENT when a missing level fails with EROFS or EACCES. Returns the first
 * directory it created (undefined when `dir` existed).
 */
export async function mkdirp(dir: string, mode: number): Promise<string | undefined> {
  try {
    return await fsp.mkdir(dir, { recursive: true, mode })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const parent = path.dirname(dir)
    if (parent === dir) throw err
    const first = await mkdirp(parent, mode)
    const made = await fsp.mkdir(dir, { mode }).then(
      () => true,
      (e) => {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
        return false
      },
    )
    return first ?? (made ? dir : undefined)
  }
}

/** After mkdirp created `first` … `dir`: sync each new level's parent, so none is lost to a power cut. */
export async function fsyncNewDirs(first: string, dir: string): Promise<void> {
  for (let d = dir; ; d = path.dirname(d)) {
    await fsyncDir(path.dirname(d))
    if (d === first || path.dirname(d) === d) return
  }
}

export async function unlinkIfExists(file: string): Promise<boolean> {
  try {
    await fsp.unlink(file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}
