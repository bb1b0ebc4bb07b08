/**
 * Power cuts in 'kernel' durability: acknowledged records may be lost (that is the documented
 * trade), but recovery never fails, never hangs, never quarantines a complete record, and
 * every file stays readable.
 */
import { describe, expect, it } from 'vitest'
import { expectHolds, logKernel, runWorkload, TEST_TIMEOUT } from './workloads.js'

describe("power cut: log() in 'kernel' durability", () => {
  it(
    'may lose what was not synced, never makes the log unreadable',
    async () => {
      const report = await runWorkload(logKernel)
      expectHolds(report)
      // The model is live: with nothing synced, some cut loses acknowledged records.
      for (const m of report.models) expect(m.maxMissingOnDisk).toBeGreaterThan(0)
    },
    TEST_TIMEOUT,
  )
})
