/**
 * Power cuts during requeue and purge (journaled rewrites of the permanent log): every entry
 * not purged survives, and after recovery it is in exactly one log.
 */
import { describe, expect, it } from 'vitest'
import { expectHolds, requeuePurge, runWorkload, TEST_TIMEOUT } from './workloads.js'

describe('power cut: requeue and purge', () => {
  it(
    'keeps every entry in exactly one log',
    async () => {
      const report = await runWorkload(requeuePurge)
      expect(report.acked).toBeGreaterThan(10)
      expectHolds(report)
    },
    TEST_TIMEOUT,
  )
})
