/**
 * Regression (found by the explorer, both models): a lock file's content was written but not
 * synced before the lock was linked into place, so after a power cut the lock could be there
 * empty or torn — which reads as a lock being created, and Logger.open refused to start
 * (DLQ_LOCKED). The temp file is now synced before the link.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runWorkload, small, TEST_TIMEOUT } from './workloads.js'

describe('regression: a power cut never leaves an unreadable lock', () => {
  it(
    'every crash state holds a readable writer lock or none, and recovery starts',
    async () => {
      let unreadable = 0
      const report = await runWorkload(small('lock content', ['dlq/orders.log', '2', '0'], 'dlq'), {
        // Recover the states with an unreadable lock (there should be none).
        select: (state, content) => {
          for (const [p, ref] of state.files) {
            if (path.basename(p) !== '.orders.log.lock') continue
            try {
              JSON.parse(content(ref).toString('utf8'))
            } catch {
              unreadable++
              return true
            }
          }
          return false
        },
        budget: 4,
      })
      expect(unreadable).toBe(0)
      for (const m of report.models) expect(m.violations).toEqual([])
    },
    TEST_TIMEOUT,
  )
})
