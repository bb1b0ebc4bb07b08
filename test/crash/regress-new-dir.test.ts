/**
 * Regression (found by the explorer, strict model): Logger.open created the log's directory
 * but never synced its parent, so a power cut could lose the directory with every record in
 * it. In fsync mode each directory it creates is now made durable before the first record.
 */
import { describe, expect, it } from 'vitest'
import { runWorkload, TEST_TIMEOUT } from './workloads.js'

describe('regression: directories Logger.open creates survive a power cut', () => {
  it(
    'keeps every acknowledged record on disk when the log directory was new',
    async () => {
      const report = await runWorkload(
        {
          name: 'regression: new log directory',
          script: 'workloads/small.ts',
          args: ['a/b/orders.log', '3', '0'],
          log: 'a/b/orders.log',
          durability: 'fsync',
          compress: false,
          maxDeliveries: 1,
        },
        { models: ['strict'], budget: 4 },
      )
      const m = report.models[0]!
      expect(m.statesChecked).toBeGreaterThan(20)
      expect(m.violations).toEqual([])
    },
    TEST_TIMEOUT,
  )
})
