/**
 * An append-only file written alongside a journaled rewrite (the audit log of requeue and
 * purge). Its size before a segment's rewrite goes into the journal; the segment's lines are
 * appended and fsynced before the journal says "committed". So a rollback (in process, or by
 * recovery after a crash) cuts the file back to that size, and a roll-forward keeps it: the
 * file always tells exactly what moved.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { ioError } from '../base/errors.js'
import { APPEND_FLAGS, fsyncDir } from '../base/fs-safe.js'

/** The side log's size when a segment's rewrite began (`file`: a basename in the log's directory). */
export interface SideLogMark {
  file: string
  size: number
}

export async function markSideLog(dir: string, file: string): Promise<SideLogMark> {
  try {
    const st = await fsp.stat(path.join(dir, file))
    return { file, size: st.size }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, size: 0 }
    throw ioError(`stat ${path.join(dir, file)}`, err)
  }
}

/**
 * Open the side log for appending (creating it, and making its name durable) and fsync it:
 * fails, before anything moves, when the file cannot be written.
 */
export async function openSideLog(dir: string, file: string): Promise<void> {
  await appendSideLog(dir, file, '')
}

export async function appendSideLog(dir: string, file: string, text: string): Promise<void> {
  const full = path.join(dir, file)
  let created = false
  let fh: fsp.FileHandle | undefined
  try {
    try {
      fh = await fsp.open(full, APPEND_FLAGS & ~fsp.constants.O_CREAT)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      fh = await fsp.open(full, APPEND_FLAGS, 0o600)
      created = true
    }
    if (text.length > 0) await fh.writeFile(text)
    await fh.sync()
  } catch (err) {
    throw ioError(`write ${full}`, err)
  } finally {
    await fh?.close().catch(() => {})
  }
  if (created) await fsyncDir(dir)
}

/** Cut the side log back to its mark (what a rolled-back segment appended goes). */
export async function truncateSideLog(dir: string, mark: SideLogMark): Promise<void> {
  const full = path.join(dir, mark.file)
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(full, 'r+')
    const st = await fh.stat()
    if (st.size > mark.size) {
      await fh.truncate(mark.size)
      await fh.sync()
    }
  } catch (err) {
    // Gone, or no longer a file: nothing this rewrite appended is there to cut.
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'EISDIR') return
    throw ioError(`truncate ${full}`, err)
  } finally {
    await fh?.close().catch(() => {})
  }
}
