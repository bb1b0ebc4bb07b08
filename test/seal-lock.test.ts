/**
 * Issue 9 §2: sealing an orphaned active file (replay(path), requeue, purge) is not being a
 * writer. The sealer takes a short seal lock, never the writer lock; Logger.open waits up to
 * `openTimeout` for a sealer, and when it gives up the error says who holds what and that it
 * is transient.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { sealLockPath } from '../src/store/lock.js'
import { bootId, processStartTime } from '../src/store/process-identity.js'
import { logPaths } from '../src/store/segments.js'
import { exited, forkFixture, killAfterTest } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { waitMessage } from './fault/helpers/fork.js'


/** A seal lock naming a live process that stands in for a sealer. */
function fakeSealer(log: string): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
  killAfterTest(c)
  const pid = c.pid!
  const info = { pid, host: os.hostname(), boot: bootId(), start: processStartTime(pid), token: 'sealer', since: Date.now(), kind: 'sealer' }
  fs.writeFileSync(sealLockPath(logPaths(log).writerLock), JSON.stringify(info) + '\n')
  return c
}

describe('Logger.open next to a sealer', () => {
  it('gives up after openTimeout with DLQ_LOCKED saying a sealer holds it, transiently, and keeps no lock', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const sealer = fakeSealer(log)
    const err = await Logger.open(log, { sealPollInterval: 0, openTimeout: 200 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'DLQ_LOCKED', pid: sealer.pid, holderKind: 'sealer', transient: true })
    expect((err as Error).message).toMatch(new RegExp(`pid ${sealer.pid} \\(sealer\\).*transient.*openTimeout \\(200 ms\\)`))
    expect(fs.existsSync(logPaths(log).writerLock)).toBe(false)
    expect(fs.existsSync(log)).toBe(false)
  })

  it('opens as soon as the sealer is gone', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const sealer = fakeSealer(log)
    const opening = Logger.open(log, { sealPollInterval: 0, openTimeout: '10m' })
    sealer.kill('SIGKILL')
    await exited(sealer)
    const dlq = await opening
    await dlq.log({ n: 1 }, 'x')
    await dlq.close()
  })

  it('rejects openTimeout values that are not durations', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    await expect(Logger.open(log, { openTimeout: 'soon' as unknown as number })).rejects.toMatchObject({
      code: 'DLQ_INVALID_OPTION',
      message: expect.stringContaining('openTimeout'),
    })
  })
})

describe('an application restarting beside a process that keeps sealing the log (cron replay, requeue, purge)', () => {
  it('never fails to open: 60 open/log/close cycles while sealLog(path) runs in a loop in another process', async () => {
    // Seeded jitter between cycles, so restarts land at every point of the sealer's loop.
    const seed = Number(process.env.DLQ_TEST_SEED ?? Date.now() % 100_000)
    console.log(`seal-lock restart test seed: ${seed} (DLQ_TEST_SEED to repeat)`)
    let x = seed || 1
    const rand = () => (x = Math.imul(x, 48271) >>> 0) / 0x1_0000_0000
    const log = path.join(tmpDir(), 'orders.log')
    const sealer = forkFixture('seal-loop.ts', [log])
    killAfterTest(sealer)
    sealer.stdout?.resume()
    sealer.stderr?.resume()
    await waitMessage(sealer, (m) => m.type === 'ready', 30_000)
    const failures: string[] = []
    for (let i = 0; i < 60; i++) {
      try {
        const dlq = await Logger.open(log, { sealPollInterval: 10 })
        await dlq.log({ n: i }, 'x')
        await dlq.close()
      } catch (err) {
        failures.push(`${(err as { code?: string }).code}: ${(err as Error).message}`)
      }
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 10)))
    }
    sealer.send('stop')
    const done = await waitMessage<{ seals: number; by: Record<string, number> }>(sealer, (m) => m.type === 'stopped', 60_000)
    expect(failures).toEqual([])
    // The sealer really sealed by itself between the application's runs.
    expect(done.by.self ?? 0).toBeGreaterThan(0)
  }, 120_000)
})
