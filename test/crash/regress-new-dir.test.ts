/**
 * Regression (found by the explorer, strict model): Logger.open created the log's directory
 * but never synced its parent, so a power cut could lose the directory with every record in
 * it. In fsync mode each directory it creates is now made durable before the first record.
 */
import { describe, expect, it } from 'vitest'
import { expectHolds, runWorkload, small, TEST_TIMEOUT } from './workloads.js'

describe('regression: directories Logger.open creates survive a power cut', () => {
  it(
    'keeps every acknowledged record on disk when the log directory was new',
    async () => {
      const report = await runWorkload(small('new log directory', ['a/b/orders.log', '3', '0']), { models: ['strict'], budget: 4 })
      expect(report.models[0]!.statesChecked).toBeGreaterThan(20)
      expectHolds(report)
    },
    TEST_TIMEOUT,
  )
})
