/**
 * Issue 9 §2: a replay whose seal request meets a writer that closes (or dies) before
 * answering goes on at once: it watches the writer lock while it waits, and then seals the
 * now orphaned active file itself. sealTimeout is 10 minutes here: the test finishing at all
 * (within the test timeout) shows the wait was not served out.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { replay } from '../src/index.js'
import { logPaths } from '../src/store/segments.js'
import { exited, forkFixture, killAfterTest } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import type { ChildProcess } from 'node:child_process'


function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = () => reject(new Error(`child exited before sending ${type}`))
    const onMsg = (m: { type: string }) => {
      if (m.type !== type) return
      child.off('message', onMsg)
      child.off('exit', onExit)
      resolve(m as T)
    }
    child.on('message', onMsg)
    child.once('exit', onExit)
  })
}

describe.each(['closes', 'is killed'] as const)('the writer %s before answering a seal request', (how) => {
  it('replay(path) goes on at once and seals the orphaned active file itself', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const paths = logPaths(log)
    // sealPollInterval 0: this writer never answers seal requests.
    const child = forkFixture('ownership-writer.ts', [log, JSON.stringify({ sealPollInterval: 0 }), '20'])
    killAfterTest(child)
    child.stdout?.resume()
    child.stderr?.resume()
    expect(await message<{ acked: number }>(child, 'logged')).toMatchObject({ acked: 20 })

    const got: number[] = []
    const run = replay(log, (p: { n: number }) => void got.push(p.n), { sealTimeout: '10m' })
    await vi.waitFor(() => expect(fs.existsSync(paths.sealRequest)).toBe(true), { timeout: 30_000, interval: 5 })
    if (how === 'closes') {
      child.send('stop')
      await message(child, 'done')
    } else {
      child.kill('SIGKILL')
    }
    await exited(child)
    const summary = await run
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(summary.warnings).toEqual([])
    expect(fs.existsSync(log)).toBe(false)
  }, 60_000)
})
