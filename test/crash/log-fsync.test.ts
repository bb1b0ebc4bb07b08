/**
 * Power cuts while several callers log in fsync mode across rotations, with compression:
 * every record acknowledged before the cut survives recovery, under both models.
 */
import { describe, expect, it } from 'vitest'
import { expectHolds, logFsync, runWorkload, TEST_TIMEOUT } from './workloads.js'

describe('power cut: log() in fsync mode', () => {
  it(
    'loses no acknowledged record at any crash point',
    async () => {
      const report = await runWorkload(logFsync)
      expect(report.acked).toBeGreaterThan(100)
      expectHolds(report)
    },
    TEST_TIMEOUT,
  )
})
