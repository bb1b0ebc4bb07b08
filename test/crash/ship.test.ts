/**
 * Power cuts while a log is shipped to a real PostgreSQL server (the server is not cut):
 * every record is still in a local file or was covered by a COMMIT the shipper had seen.
 */
import { describe, expect, it } from 'vitest'
import { useCluster } from '../postgres/setup.js'
import { expectHolds, runWorkload, ship, TEST_TIMEOUT } from './workloads.js'

const pg = useCluster()

describe('power cut: ship', () => {
  it(
    'deletes a local segment only after the COMMIT covering it',
    async () => {
      const report = await runWorkload(ship(pg.url, `crash_${process.pid}`))
      expect(report.acked).toBeGreaterThan(20)
      expect(report.committed).toBe(report.acked)
      expectHolds(report)
    },
    TEST_TIMEOUT,
  )
})
