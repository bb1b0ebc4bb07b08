/**
 * logCounts after a replay was SIGKILLed mid-segment: checkpoint inside a segment, the
 * replayer's output segment left half-written. Counts equal a full scan's.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readCheckpoint } from '../src/store/checkpoint.js'
import { Logger, replay } from '../src/index.js'
import { forgetTails } from '../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts } from '../src/store/counts/log-counts.js'
import { fullScanCounts, until } from './fixtures/counts-util.js'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

/** The furthest checkpoint offset of any segment (read as replay reads it, whatever the state file format). */
async function checkpointOffset(dir: string): Promise<number> {
  let max = 0
  for (const n of fs.readdirSync(dir).filter((f) => f.endsWith('.log.state'))) {
    const cp = await readCheckpoint(path.join(dir, n), n.slice(0, -'.state'.length))
    if (cp.status === 'ok') max = Math.max(max, cp.checkpoint.offset)
  }
  return max
}

describe('logCounts after a killed replay', () => {
  it('equals a full scan, cold and warm, and again once a later replay has settled it', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log, { sealPollInterval: 0 })
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < 2500; i++) await dlq.log({ n: s * 2500 + i }, 'first failure')
      await dlq.rotate()
    }
    await dlq.close()

    const child = forkFixture('counts-replay-child.ts', [JSON.stringify({ log, stuckAt: 1777 })])
    const stuck = new Promise<void>((resolve) => child.on('message', (m) => (m as { stuck?: boolean }).stuck && resolve()))
    await stuck
    // A checkpoint inside the segment is on disk (one every 100 items).
    await until(async () => (await checkpointOffset(dir)) > 0, 20_000, 'a checkpoint past the start')
    child.kill('SIGKILL')
    await exited(child)
    expect(fs.readdirSync(dir).some((n) => /^orders\.r\d{12}\.log$/.test(n))).toBe(true)

    const now = Date.now()
    const want = await fullScanCounts(log, now)
    expect(want.pending).toBeLessThan(5000)
    expect(want.deferred).toBeGreaterThan(0)
    for (let round = 0; round < 2; round++) {
      const got = await logCounts(log, { now })
      // The partly replayed segment is counted from its checkpoint: its earliest time is a lower bound.
      expect(got).toMatchObject({ ...want, oldestPendingTs: got.oldestPendingTs, dueExact: true })
      if (!got.oldestPendingTsExact) expect(got.oldestPendingTs!).toBeLessThanOrEqual(want.oldestPendingTs!)
      else expect(got.oldestPendingTs).toBe(want.oldestPendingTs)
    }

    // A later (complete) replay settles the half-written output and drains what is due.
    forgetLogCounts()
    forgetTails()
    const warmBefore = await logCounts(log, { now })
    expect(warmBefore.pending).toBe(want.pending)
    await replay(log, () => {}, { initialWait: '1h', maxWait: '1h' })
    const after = await fullScanCounts(log, Date.now())
    const got = await logCounts(log, { now: Date.now() })
    expect({ pending: got.pending, due: got.due, deferred: got.deferred, corrupt: got.corrupt }).toEqual({
      pending: after.pending,
      due: after.due,
      deferred: after.deferred,
      corrupt: after.corrupt,
    })
  })
})
