/**
 * A process that ends without close() — process.exit, an event loop that runs dry, an
 * uncaught exception, a replay handler that exits — leaves none of its lock files behind (the
 * next process finds no lock rather than a stale one). A lock that another process holds by
 * then is left alone.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { logPaths } from '../src/store/segments.js'
import { exited, forkFixture, killAfterTest, nextMessage } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

function lockFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /\.lock$/.test(n))
}

describe('locks of a process that exits without close()', () => {
  for (const how of ['exit', 'drain', 'throw', 'replay'] as const) {
    it(`are gone after it ends (${how})`, async () => {
      const dir = tmpDir()
      const log = path.join(dir, 'orders.log')
      if (how === 'replay') {
        const dlq = await Logger.open(log, { sealPollInterval: 0 })
        await dlq.log({ n: 1 }, 'failed')
        await dlq.close()
      }
      const child = killAfterTest(forkFixture('lock-exit-child.ts', [log, how]))
      child.stderr!.resume()
      const held = how === 'replay' ? logPaths(log).replayLock : logPaths(log).writerLock
      expect(await nextMessage(child)).toContain(path.basename(held))
      const { code } = await exited(child)
      expect(code).toBe(how === 'throw' ? 1 : 0)
      expect(lockFiles(dir)).toEqual([])
    })
  }

  it('leave a lock alone that another process holds by then', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const child = killAfterTest(forkFixture('lock-exit-child.ts', [log, 'taken']))
    const lock = logPaths(log).writerLock
    expect(await nextMessage(child)).toEqual([path.basename(lock)])
    // Taken over meanwhile (as a reclaimer would): this process's content, another token.
    const other = JSON.stringify({ host: os.hostname(), pid: process.pid, token: 'feedfacefeedface', since: Date.now(), kind: 'writer' }) + '\n'
    fs.writeFileSync(lock, other)
    child.send('exit')
    expect((await exited(child)).code).toBe(0)
    expect(fs.readFileSync(lock, 'utf8')).toBe(other)
  })
})
