/**
 * What a call to logCounts reads: nothing when nothing changed, only the appended bytes of
 * an active file, nothing again when the writer seals it, sidecars only in a new process.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { forgetTails } from '../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts } from '../src/store/counts/log-counts.js'
import { listSegments, logPaths, metaPathOf } from '../src/store/segments.js'
import { envLine, fullScanCounts } from './fixtures/counts-util.js'
import { tmpDir } from './helpers/tmp.js'

const open: Logger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => {})
  forgetLogCounts()
  forgetTails()
})

async function openLog(log: string): Promise<Logger> {
  const l = await Logger.open(log, { sealPollInterval: 0 })
  open.push(l)
  return l
}

async function expectFullScan(log: string, now: number): Promise<void> {
  const got = await logCounts(log, { now })
  const want = await fullScanCounts(log, now)
  expect({ pending: got.pending, due: got.due, deferred: got.deferred, permanent: got.permanent, corrupt: got.corrupt, oldestPendingTs: got.oldestPendingTs }).toEqual(want)
}

describe('logCounts reads only what changed', () => {
  it('a second call after no change reads 0 segment bytes and writes no sidecar', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLog(log)
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < 800; i++) await dlq.log({ s, i }, 'x')
      await dlq.rotate()
    }
    for (let i = 0; i < 10; i++) await dlq.log({ i }, 'active')
    await dlq.logPermanent({ p: 1 }, 'perm')
    await dlq.flush()
    const first = await logCounts(log)
    expect(first.scannedBytes).toBeGreaterThan(0)
    const metas = (await listSegments(logPaths(log).retry)).map((s) => metaPathOf(s.key))
    const mtimes = metas.map((m) => fs.statSync(m).mtimeMs)
    const second = await logCounts(log)
    expect(second.scannedBytes).toBe(0)
    expect({ ...second, scannedBytes: first.scannedBytes }).toEqual(first)
    expect(metas.map((m) => fs.statSync(m).mtimeMs)).toEqual(mtimes)
  })

  it('in a new process (memory forgotten) nothing is read again: segments and active files come from their sidecars', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLog(log)
    for (let i = 0; i < 2000; i++) await dlq.log({ i }, 'x')
    await dlq.rotate()
    for (let i = 0; i < 5; i++) await dlq.log({ i }, 'active')
    await dlq.flush()
    const first = await logCounts(log)
    forgetLogCounts()
    forgetTails()
    const again = await logCounts(log)
    expect(again.scannedBytes).toBe(0)
    expect({ ...again, scannedBytes: 0 }).toEqual({ ...first, scannedBytes: 0 })
    // …and what was appended since the other process counted is all it reads.
    const size = fs.statSync(log).size
    for (let i = 0; i < 3; i++) await dlq.log({ i }, 'more')
    await dlq.flush()
    forgetLogCounts()
    forgetTails()
    const more = await logCounts(log)
    expect(more.scannedBytes).toBe(fs.statSync(log).size - size)
    expect(more.pending).toBe(first.pending + 3)
  })

  it('appending to the active file scans only the new bytes', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLog(log)
    for (let i = 0; i < 300; i++) await dlq.log({ i }, 'x')
    await dlq.flush()
    await logCounts(log)
    const before = fs.statSync(log).size
    for (let i = 0; i < 25; i++) await dlq.log({ i: 300 + i }, 'x')
    await dlq.flush()
    const c = await logCounts(log)
    expect(c.scannedBytes).toBe(fs.statSync(log).size - before)
    expect(c.pending).toBe(325)
    await expectFullScan(log, Date.now())
  })

  it('a record still being written (no newline yet) is left for a later call, then counted once', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const t = Date.now() - 1000
    const a = envLine({ ts: t, payload: 1 })
    const b = envLine({ ts: t - 5, payload: 2 })
    fs.writeFileSync(log, a + '\n' + b.slice(0, 15))
    const c1 = await logCounts(log)
    expect([c1.pending, c1.oldestPendingTs]).toEqual([1, t])
    fs.appendFileSync(log, b.slice(15) + '\n')
    const c2 = await logCounts(log)
    expect([c2.pending, c2.oldestPendingTs]).toEqual([2, t - 5])
    // Re-reads the line it had left, nothing before it.
    expect(c2.scannedBytes).toBe(b.length + 1)
    await expectFullScan(log, Date.now())
  })

  it('a segment the writer seals costs no re-read: its meta continues the active count', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLog(log)
    for (let i = 0; i < 1500; i++) await dlq.log({ i }, 'x')
    await dlq.flush()
    await logCounts(log)
    await dlq.rotate()
    const c = await logCounts(log)
    expect(c.scannedBytes).toBe(0)
    expect(c).toMatchObject({ pending: 1500, segments: 1 })
    const [seg] = await listSegments(logPaths(log).retry)
    expect(fs.existsSync(metaPathOf(seg.key))).toBe(true)
    await expectFullScan(log, Date.now())
  })

  it('a sealed segment first seen a call after its active file disappeared still takes over its counts', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const t = Date.now() - 1000
    fs.writeFileSync(log, Array.from({ length: 500 }, (_, i) => envLine({ ts: t + i, payload: i }) + '\n').join(''))
    await logCounts(log)
    // Sealed in two steps around a count: first gone from the active name, then listed as a segment.
    const aside = path.join(dir, 'elsewhere')
    fs.renameSync(log, aside)
    expect((await logCounts(log)).pending).toBe(0)
    fs.renameSync(aside, path.join(dir, 'orders.000000000001.log'))
    const c = await logCounts(log)
    expect([c.pending, c.scannedBytes]).toEqual([500, 0])
    await expectFullScan(log, Date.now())
  })

  it('the corrupt quarantine: appended lines read incrementally; cut back and regrown, counted again', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const corrupt = logPaths(log).corrupt
    const rec = (n: number) => JSON.stringify({ ts: n, segment: 'orders.000000000001.log', offset: n, error: 'bad', raw: 'x' }) + '\n'
    fs.writeFileSync(corrupt, rec(1) + rec(2) + rec(3))
    expect((await logCounts(log)).corrupt).toBe(3)
    fs.appendFileSync(corrupt, rec(4))
    const c = await logCounts(log)
    expect([c.corrupt, c.scannedBytes]).toEqual([4, rec(4).length])
    // Replay recovery cuts the file back to a checkpoint's mark; it then grows past the old size.
    fs.truncateSync(corrupt, rec(1).length)
    fs.appendFileSync(corrupt, rec(50) + rec(60) + rec(70) + rec(80) + rec(90))
    expect((await logCounts(log)).corrupt).toBe(6)
    await expectFullScan(log, Date.now())
  })

  it('an active file replaced by a new one (sealed, then written again) is counted from its start', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const t = Date.now() - 1000
    fs.writeFileSync(log, Array.from({ length: 40 }, (_, i) => envLine({ ts: t + i, payload: i }) + '\n').join(''))
    expect((await logCounts(log)).pending).toBe(40)
    fs.unlinkSync(log)
    fs.writeFileSync(log, Array.from({ length: 50 }, (_, i) => envLine({ ts: t + 100 + i, payload: i }) + '\n').join(''))
    const c = await logCounts(log)
    expect([c.pending, c.oldestPendingTs]).toEqual([50, t + 100])
    await expectFullScan(log, Date.now())
  })

  it('concurrent calls for one log agree and share the work', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLog(log)
    for (let i = 0; i < 3000; i++) await dlq.log({ i }, 'x')
    await dlq.rotate()
    const now = Date.now()
    const all = await Promise.all([1, 2, 3, 4].map(() => logCounts(log, { now })))
    expect(new Set(all.map((c) => JSON.stringify({ ...c, scannedBytes: 0 }))).size).toBe(1)
    // Only the first computed the segment's meta.
    expect(all.filter((c) => c.scannedBytes > 0)).toHaveLength(1)
  })
})
