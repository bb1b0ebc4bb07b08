/**
 * Issue 9 §1: a live writer must not lose its active file to a cron-style replay when its
 * lock file is deleted (an age-based temp cleaner, an operator) or looks ancient (a forward
 * wall-clock step: the old code judged a lock older than "now - uptime" as left from before
 * boot). A writer child logs continuously; the lock is tampered with before every replay run;
 * afterwards every item the writer saw acknowledged must have been delivered (0 lost).
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { replay } from '../../src/index.js'
import { logPaths } from '../../src/store/segments.js'
import { tmpDir } from '../helpers/tmp.js'
import { exited, forkFault, waitMessage } from './helpers/fork.js'

const ROUNDS = 12

const scenarios = {
  'the lock file is deleted': (lock: string) => fs.rmSync(lock, { force: true }),
  'the lock file mtime is in the distant past (a forward clock step)': (lock: string) => {
    const epoch = new Date(0)
    if (fs.existsSync(lock)) fs.utimesSync(lock, epoch, epoch)
  },
}

for (const [name, tamper] of Object.entries(scenarios)) {
  it(`${name} while a writer child logs and replay(path) runs repeatedly: every acknowledged item is delivered`, async () => {
    const dir = tmpDir('dlq-fault-lockloss-')
    const logPath = path.join(dir, 'orders.log')
    const paths = logPaths(logPath)
    const writer = forkFault('../../fixtures/ownership-writer.ts', [
      logPath,
      JSON.stringify({ rotateSize: '1M', sealPollInterval: 20 }),
      'loop',
    ])
    try {
      let acked = 0
      writer.on('message', (m: { type: string; acked?: number }) => {
        if (m.type === 'progress') acked = m.acked!
      })
      await waitMessage(writer, (m) => m.type === 'ready', 30_000)
      await waitMessage(writer, (m) => m.type === 'progress' && m.acked >= 500, 30_000)

      const delivered = new Set<number>()
      const handler = (p: { n: number }) => {
        delivered.add(p.n)
      }
      for (let round = 0; round < ROUNDS; round++) {
        tamper(paths.writerLock)
        await replay(logPath, handler, { sealTimeout: '30s' })
        // Let the writer get ahead again, so each run meets fresh records in its active file.
        const target = acked + 200
        await waitMessage(writer, (m) => m.type === 'progress' && m.acked >= target, 30_000)
      }
      writer.send('stop')
      const done = await waitMessage<{ acked: number; error?: string; errors: string[] }>(writer, (m) => m.type === 'done', 60_000)
      expect((await exited(writer)).code, writer.stderrText()).toBe(0)
      expect(done.error, 'no log() call was rejected').toBeUndefined()
      expect(done.errors).toEqual([])

      // No writer now: the final runs seal the active file themselves.
      for (let i = 0; ; i++) {
        expect(i, 'the log did not drain').toBeLessThan(10)
        const s = await replay(logPath, handler)
        if (s.handled === 0) break
      }
      let lost = 0
      for (let n = 0; n < done.acked; n++) if (!delivered.has(n)) lost++
      expect(lost, `acknowledged items neither delivered nor on disk (of ${done.acked})`).toBe(0)
      expect(done.acked).toBeGreaterThan(500 + ROUNDS * 200)
    } finally {
      if (writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL')
      await exited(writer)
    }
  }, 180_000)
}
