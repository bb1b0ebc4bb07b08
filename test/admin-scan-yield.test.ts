/**
 * stats() and inspect() give the event loop back while they scan (src/base/time-slice.ts): a
 * callback queued with setImmediate once the scan is under way runs before the scan ends,
 * not after it, so a server in the same process keeps answering.
 */
import { describe, expect, it } from 'vitest'
import { inspect, stats } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { NEEDLE, writeLongScanLog } from './fixtures/long-scan-log.js'

const ENTRIES = 60_000

describe('a long scan lets other callbacks run', () => {
  it('stats(): an immediate queued at the first line runs while the scan is still reading', async () => {
    const { log } = writeLongScanLog(tmpDir(), ENTRIES)
    let items = 0
    let queued = false
    let itemsWhenRun: number | undefined
    let finished = false
    let ranBeforeFinished = false
    const s = await stats(log, {
      onProgress: (p) => {
        items = p.items
        if (queued) return
        queued = true
        setImmediate(() => {
          itemsWhenRun = items
          ranBeforeFinished = !finished
        })
      },
    }).finally(() => (finished = true))
    expect(s.retry.count).toBe(ENTRIES)
    expect(ranBeforeFinished).toBe(true)
    expect(itemsWhenRun).toBeLessThan(ENTRIES)
  })

  it('inspect() with a filter: an immediate queued at the first match runs before the later matches arrive', async () => {
    const { log } = writeLongScanLog(tmpDir(), ENTRIES, [0, ENTRIES / 2, ENTRIES - 1])
    const events: string[] = []
    const listing = inspect(log, { reason: NEEDLE })
    for await (const e of listing) {
      events.push(e.id!)
      if (events.length === 1) setImmediate(() => events.push('immediate'))
    }
    expect(listing.summary.entries).toBe(3)
    expect(events).toEqual(['e0', 'immediate', `e${ENTRIES / 2}`, `e${ENTRIES - 1}`])
  })
})
