/**
 * Regression (found by the explorer, strict model): after a seal renamed the active file and
 * synced the directory, the new active file was created, its records written, fsynced and
 * acknowledged — but its name was never synced, so a power cut could keep the data and lose
 * the file. The same for the files Logger.open creates. Now the first batch in each new
 * active file syncs the directory before anyone is answered.
 */
import { describe, expect, it } from 'vitest'
import { expectHolds, runWorkload, small, TEST_TIMEOUT } from './workloads.js'

describe('regression: a new active file is made durable before its first acknowledgement', () => {
  it(
    'keeps every acknowledged record on disk across rotations',
    async () => {
      const report = await runWorkload(small('active file after a seal', ['dlq/orders.log', '12', '1024'], 'dlq'), { models: ['strict'], budget: 4 })
      expect(report.models[0]!.statesChecked).toBeGreaterThan(100)
      expectHolds(report)
    },
    TEST_TIMEOUT,
  )

  it(
    'the same after an interval rotation (a seal on a timer)',
    async () => {
      const report = await runWorkload(small('active file after an interval rotation', ['dlq/orders.log', '3', '0', '1s'], 'dlq'), {
        models: ['strict'],
        budget: 4,
      })
      expect(report.acked).toBe(6)
      expectHolds(report)
    },
    TEST_TIMEOUT,
  )
})
