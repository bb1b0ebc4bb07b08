/**
 * Issue 17 §5: a compression that cannot create its `.gz.tmp` (a real ENOSPC: the tmpfs has
 * no inode left) must close the segment it opened to read. The segment stays, uncompressed
 * and replayable, and the failure is a warning; a descriptor kept open on it would leak once
 * per failed compression for the life of the process.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { mountRefused, mountTmpfs } from './helpers/mount.js'

/** Create empty files in `dir` until the file system has no inode left; returns them. */
function takeEveryInode(dir: string): string[] {
  const files: string[] = []
  for (let i = 0; ; i++) {
    const f = path.join(dir, `inode-${i}`)
    try {
      fs.closeSync(fs.openSync(f, 'wx'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      return files
    }
    files.push(f)
  }
}

/** Descriptors of this process open on `file`. */
function descriptorsOn(file: string): string[] {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === file
    } catch {
      return false // the directory's own descriptor, already closed
    }
  })
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.skipIf(mountRefused !== undefined || process.platform !== 'linux')(`compression on a file system out of inodes${mountRefused ? ` — SKIPPED: ${mountRefused}` : ''}`, () => {
  it('closes the segment it opened; the segment stays uncompressed, with a warning', async () => {
    const mnt = mountTmpfs('4m', ['nr_inodes=64'])
    const dlq = await Logger.open(path.join(mnt, 'q.log'), { compress: true, sealPollInterval: 0 })
    const warnings: string[] = []
    dlq.on('warning', (w) => warnings.push(w.message))
    try {
      for (let i = 0; i < 10; i++) await dlq.log({ i }, 'x')
      // Every inode but one: the rotation's new active file takes it, the compression finds none.
      const taken = takeEveryInode(mnt)
      fs.unlinkSync(taken.pop()!)
      const sealed = await dlq.rotate()
      expect(sealed).not.toBeNull()
      await until(() => warnings.some((w) => w.includes('could not compress')), 'the compression warning')
      expect(descriptorsOn(sealed!)).toEqual([])
      expect(fs.readFileSync(sealed!, 'utf8').split('\n').filter(Boolean)).toHaveLength(10)
      expect(fs.existsSync(`${sealed}.gz.tmp`)).toBe(false)
    } finally {
      await dlq.close()
    }
  })
})
