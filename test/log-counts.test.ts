/**
 * logCounts equals a full scan of the log (every byte read, with the rules of `dletter stats`)
 * in each state a log goes through: fresh, partly replayed, deferred, compressed, with corrupt lines.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger, replay } from '../src/index.js'
import { forgetTails } from '../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts, type LogCounts } from '../src/store/counts/log-counts.js'
import { compressSegment, listSegments, logPaths } from '../src/store/segments.js'
import { envLine, fullScanCounts, writeSegment } from './fixtures/counts-util.js'
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

/**
 * Both ways of getting counts: cold (as a new process would) and warm (this process again).
 * `looseOldest`: a partly replayed segment counted from its checkpoint gives the earliest time
 * of the whole segment, a lower bound, and says so.
 */
async function expectCountsMatch(log: string, now: number, opts: { looseOldest?: boolean } = {}): Promise<LogCounts> {
  const want = await fullScanCounts(log, now)
  forgetLogCounts()
  forgetTails()
  const cold = await logCounts(log, { now })
  const warm = await logCounts(log, { now })
  for (const got of [cold, warm]) {
    expect(got.dueExact).toBe(true)
    const { segments: _s, scannedBytes: _b, dueExact: _d, oldestPendingTsExact: exactOldest, ...counts } = got
    if (opts.looseOldest && !exactOldest) {
      expect(counts.oldestPendingTs).toBeLessThanOrEqual(want.oldestPendingTs!)
      counts.oldestPendingTs = want.oldestPendingTs
    } else expect(exactOldest).toBe(true)
    expect(counts).toEqual(want)
  }
  return cold
}

async function fillLog(log: string, segments: number, perSegment: number): Promise<void> {
  const dlq = await openLog(log)
  for (let s = 0; s < segments; s++) {
    for (let i = 0; i < perSegment; i++) await dlq.log({ s, i }, `fail ${i}`, 1, { id: `${s}-${i}` })
    await dlq.rotate()
  }
  for (let i = 0; i < 7; i++) await dlq.log({ active: i }, 'in the active file')
  for (let i = 0; i < 3; i++) await dlq.logPermanent({ perm: i }, 'gave up')
  await dlq.flush()
}

describe('logCounts equals a full scan', () => {
  it('of a fresh log: sealed segments, the active file and the permanent log', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    await fillLog(log, 3, 1500)
    const c = await expectCountsMatch(log, Date.now())
    expect(c).toMatchObject({ pending: 3 * 1500 + 7, due: 3 * 1500 + 7, deferred: 0, permanent: 3, corrupt: 0, segments: 3 })
  })

  it('of an empty or missing log', async () => {
    const dir = tmpDir()
    const c = await expectCountsMatch(path.join(dir, 'orders.log'), Date.now())
    expect(c).toMatchObject({ pending: 0, permanent: 0, corrupt: 0, segments: 0, oldestPendingTs: null, scannedBytes: 0 })
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('after a partial replay (checkpoint mid-segment, via `limit`)', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    await fillLog(log, 2, 3000)
    for (const l of open.splice(0)) await l.close()
    const s = await replay(log, () => {}, { limit: 1234, checkpointEvery: 100 })
    expect(s.delivered).toBe(1234)
    const c = await expectCountsMatch(log, Date.now(), { looseOldest: true })
    expect(c.pending).toBe(2 * 3000 + 7 - 1234)
  })

  it('after items were deferred with dueTs in the future (exact before, at and after the due range)', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    await fillLog(log, 2, 2000)
    for (const l of open.splice(0)) await l.close()
    const t0 = Date.now()
    let n = 0
    // Every third item fails: re-logged with dueTs = t0 + 1h (no jitter).
    await replay(
      log,
      () => {
        if (n++ % 3 === 0) throw new Error('later')
      },
      { initialWait: '1h', maxWait: '1h', random: () => 0.5, now: () => t0 },
    )
    const c = await expectCountsMatch(log, t0)
    expect(c).toMatchObject({ pending: Math.ceil(4007 / 3), due: 0, deferred: Math.ceil(4007 / 3) })
    const due = await expectCountsMatch(log, t0 + 2 * 3_600_000)
    expect(due).toMatchObject({ due: Math.ceil(4007 / 3), deferred: 0 })
  })

  it('with spread due times: exact outside the range, and when inexact never off by more than a bucket', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const t0 = 1_800_000_000_000
    const lines = Array.from({ length: 5000 }, (_, i) => envLine({ ts: t0 - 5000 + i, dueTs: t0 + i * 1000, payload: i }))
    writeSegment(log, 1, lines)
    await expectCountsMatch(log, t0 - 1)
    await expectCountsMatch(log, t0 + 5000 * 1000)
    for (const now of [t0 + 1_234_567, t0 + 2_500_500, t0 + 4_999_999]) {
      const want = await fullScanCounts(log, now)
      const got = await logCounts(log, { now })
      expect(got.pending).toBe(want.pending)
      expect(Math.abs(got.due - want.due)).toBeLessThanOrEqual(Math.ceil((4 * 5000) / 64))
      if (got.dueExact) expect(got.due).toBe(want.due)
    }
  })

  it('after compression (.gz segments, and a partly replayed one)', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    await fillLog(log, 3, 1500)
    for (const l of open.splice(0)) await l.close()
    await replay(log, () => {}, { limit: 700, checkpointEvery: 50 })
    // Counted (and sidecars written) while plain, then compressed under the counts' feet.
    await expectCountsMatch(log, Date.now(), { looseOldest: true })
    for (const seg of await listSegments(logPaths(log).retry)) await compressSegment(seg.path, 0o600)
    expect((await listSegments(logPaths(log).retry)).every((s) => s.gz)).toBe(true)
    const warm = await logCounts(log)
    expect(warm.scannedBytes).toBeGreaterThan(0)
    const c = await expectCountsMatch(log, Date.now(), { looseOldest: true })
    expect(c.pending).toBe(3 * 1500 + 7 - 700)
  })

  it('with corrupt lines in segments, in the quarantine, and a checkpoint past some of them', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const t0 = Date.now() - 60_000
    const bad = ['garbage', '', '{"ts":1,"attempt":1}', '{not json']
    const lines: string[] = []
    for (let i = 0; i < 3000; i++) {
      lines.push(envLine({ ts: t0 + i, payload: { i } }))
      if (i % 500 === 250) lines.push(bad[((i / 500) | 0) % bad.length])
    }
    writeSegment(log, 1, lines, { gz: true })
    writeSegment(log, 2, lines)
    await replay(log, () => {}, { limit: 1800, checkpointEvery: 100 })
    // The segments have corrupt lines: each is read past its checkpoint, so every count is exact.
    const c = await expectCountsMatch(log, Date.now())
    // 4 corrupt lines were before the checkpoint: quarantined.
    expect(c.corrupt).toBe(4)
    expect(c.pending).toBe(2 * 3000 - (1800 - 4))
    // Once the .gz is done, the plain one is partly replayed (read past its checkpoint).
    await replay(log, () => {}, { limit: 3000, checkpointEvery: 100 })
    const d = await expectCountsMatch(log, Date.now())
    expect(d.corrupt).toBe(6 + 4)
    expect(d.pending).toBe(2 * 3000 - (1800 - 4) - (3000 - 6))
  })
})

describe('logCounts agrees with replay on what is due', () => {
  it('an item without dueTs is due even when the clock is behind its ts (regression)', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const now = 1_800_000_000_000
    writeSegment(log, 1, [envLine({ ts: now + 60_000, payload: 1 }), envLine({ ts: now - 5, dueTs: now + 1, payload: 2 })])
    const c = await logCounts(log, { now })
    const s = await replay(log, () => {}, { dryRun: true, now: () => now })
    expect([c.due, c.deferred]).toEqual([s.due, s.deferred])
    expect([c.due, c.deferred, c.dueExact]).toEqual([1, 1, true])
  })
})

describe('logCounts options', () => {
  it('rejects unknown options and bad values with DLQ_INVALID_OPTION naming the option', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    await expect(logCounts(log, { nope: 1 } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('nope') })
    await expect(logCounts(log, { now: Number.NaN })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('now') })
    await expect(logCounts(log, { maxRecordSize: 'huge' })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('maxRecordSize') })
    await expect(logCounts(log, { maxRecordSize: 10 })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    await expect(logCounts(log, 5 as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    expect(await logCounts(log, { maxRecordSize: '1M', now: 5 })).toMatchObject({ pending: 0 })
  })
})
