/**
 * Issue 9 §1: whether a writer lock's holder is alive never depends on the wall clock. The old
 * code judged a lock whose mtime was older than "now - uptime" as left from before the last
 * boot; a forward clock step made a live writer's lock look like that, and a second
 * Logger.open beside it succeeded. Setting the lock's mtime far in the past reproduces it.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { logPaths } from '../src/store/segments.js'
import { bootId, processStartTime } from '../src/store/process-identity.js'
import { exited, forkFixture, killAfterTest, nextMessage } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

const onLinux = fs.existsSync('/proc/sys/kernel/random/boot_id')
const open: Logger[] = []

afterEach(async () => {
  for (const l of open.splice(0)) await l.close()
})

function liveChild(): number {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
  killAfterTest(c)
  return c.pid!
}

function writeLock(file: string, fields: object): void {
  fs.writeFileSync(file, JSON.stringify({ host: os.hostname(), token: 'theirs', since: Date.now(), kind: 'writer', ...fields }) + '\n')
}

describe('a live writer in another process', () => {
  it('keeps its lock when the lock file mtime is in the distant past (a forward clock step): a second open fails', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const child = forkFixture('log-hold.ts', [log, 'hold'])
    killAfterTest(child)
    expect(await nextMessage<{ ok: boolean }>(child)).toMatchObject({ ok: true })
    const lock = logPaths(log).writerLock
    const before = fs.readFileSync(lock, 'utf8')
    fs.utimesSync(lock, new Date(0), new Date(0))
    const err = await Logger.open(log, { sealPollInterval: 0 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'DLQ_LOCKED', pid: child.pid, holderKind: 'writer', transient: false })
    expect((err as Error).message).toContain(`pid ${child.pid}`)
    // …and the live writer's lock is untouched.
    expect(fs.readFileSync(lock, 'utf8')).toBe(before)
  })

  it.skipIf(!onLinux)('records boot id, pid and process start time in its lock', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const child = forkFixture('log-hold.ts', [log, 'hold'])
    killAfterTest(child)
    await nextMessage(child)
    const info = JSON.parse(fs.readFileSync(logPaths(log).writerLock, 'utf8'))
    expect(info).toMatchObject({ pid: child.pid, host: os.hostname(), kind: 'writer', boot: bootId(), start: processStartTime(child.pid!) })
  })
})

describe.skipIf(!onLinux)('stale by identity, whatever the pid probe says', () => {
  it('a lock naming a live pid with another start time (the pid was reused) is reclaimed', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeLock(logPaths(log).writerLock, { pid: liveChild(), boot: bootId(), start: '1' })
    const dlq = await Logger.open(log, { sealPollInterval: 0 })
    open.push(dlq)
    expect(JSON.parse(fs.readFileSync(logPaths(log).writerLock, 'utf8')).pid).toBe(process.pid)
  })

  it('a lock from another boot naming a pid that is in use now is reclaimed', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const pid = liveChild()
    writeLock(logPaths(log).writerLock, { pid, boot: 'a-previous-boot', start: processStartTime(pid) })
    const dlq = await Logger.open(log, { sealPollInterval: 0 })
    open.push(dlq)
    expect(JSON.parse(fs.readFileSync(logPaths(log).writerLock, 'utf8')).pid).toBe(process.pid)
  })

  it('a lock naming a live process with its start time is held, even with an mtime from 1970', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const pid = liveChild()
    const lock = logPaths(log).writerLock
    writeLock(lock, { pid, boot: bootId(), start: processStartTime(pid) })
    fs.utimesSync(lock, new Date(0), new Date(0))
    await expect(Logger.open(log, { sealPollInterval: 0 })).rejects.toMatchObject({ code: 'DLQ_LOCKED', pid })
  })
})
