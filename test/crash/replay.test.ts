/**
 * Power cuts while a cron-style replay (re-logs, permanent moves, checkpoints every two
 * items) runs beside a writer process: nothing acknowledged is lost, no checkpoint covers an
 * output that is not there, and an item is delivered at most once more than without the cut.
 */
import { describe, expect, it } from 'vitest'
import { expectHolds, replayWhileLogging, runWorkload, TEST_TIMEOUT } from './workloads.js'

describe('power cut: replay while a writer logs', () => {
  it(
    'loses nothing and redoes at most once',
    async () => {
      const report = await runWorkload(replayWhileLogging)
      expect(report.acked).toBeGreaterThan(20)
      expectHolds(report)
    },
    TEST_TIMEOUT,
  )
})
