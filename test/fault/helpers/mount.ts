/**
 * Small tmpfs mounts for real-disk faults (ENOSPC, read-only). Needs root and a kernel that
 * lets this process mount; `mountSupport` says why not, so the tests can skip with a reason.
 * Mount points are made and removed here (not by tmpDir) so they are unmounted before removal.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach } from 'vitest'

function run(cmd: string, args: string[]): string | undefined {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    return undefined
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string }
    return (e.stderr?.toString().trim() || e.message).split('\n')[0]
  }
}

/** Undefined when tmpfs can be mounted here; else the reason (for the skip message). */
export const mountRefused: string | undefined = (() => {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'tmpfs mounts need root'
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-mount-probe-'))
  try {
    const why = run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe])
    if (why) return `mount -t tmpfs refused: ${why}`
    run('umount', [probe])
    return undefined
  } finally {
    fs.rmSync(probe, { recursive: true, force: true })
  }
})()

const mounted: string[] = []

/** Mount a fresh tmpfs (`size` like '2m', extra options like 'ro') and return its path. */
export function mountTmpfs(size: string, extra: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-tmpfs-'))
  const why = run('mount', ['-t', 'tmpfs', '-o', [`size=${size}`, 'mode=0755', ...extra].join(','), 'tmpfs', dir])
  if (why) {
    fs.rmdirSync(dir)
    throw new Error(`could not mount tmpfs at ${dir}: ${why}`)
  }
  mounted.push(dir)
  return dir
}

export function remount(dir: string, opts: string): void {
  const why = run('mount', ['-o', `remount,${opts}`, dir])
  if (why) throw new Error(`could not remount ${dir} ${opts}: ${why}`)
}

export function unmountAll(): void {
  for (const dir of mounted.splice(0)) {
    if (run('umount', [dir])) run('umount', ['-l', dir])
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

afterEach(unmountAll)

/** Fill the file system holding `dir` completely; returns the filler files (delete them to free space). */
export function fillDisk(dir: string, prefix = 'filler'): string[] {
  const files: string[] = []
  const big = Buffer.alloc(256 * 1024, 0x61)
  for (let i = 0; ; i++) {
    const f = path.join(dir, `${prefix}-${i}`)
    files.push(f)
    const fd = fs.openSync(f, 'w')
    let written = 0
    try {
      // Big chunks first, then pages, then single bytes: whatever is left ends up used.
      for (const chunk of [big, big.subarray(0, 4096), big.subarray(0, 1)]) {
        for (;;) {
          if (written >= 16 * 1024 * 1024) break
          const n = fs.writeSync(fd, chunk)
          written += n
          if (n < chunk.length) break
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      return files
    } finally {
      fs.closeSync(fd)
    }
  }
}

/** Bytes the file system at `dir` still has free. */
export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir)
  return s.bavail * s.bsize
}
