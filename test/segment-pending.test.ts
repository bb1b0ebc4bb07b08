/**
 * The pending part of a partly replayed segment, for every kind of checkpoint: at a sample,
 * inside a run (plain: read; .gz: from the checkpoint's line count, or read when that does
 * not add up), not at a line start, past the end, unreadable.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { writeCheckpoint } from '../src/store/checkpoint.js'
import { forgetTails } from '../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts } from '../src/store/counts/log-counts.js'
import { replay } from '../src/index.js'
import { SAMPLE_EVERY, scanSegmentMeta } from '../src/store/counts/segment-meta.js'
import { listSegments, logPaths, statePathOf } from '../src/store/segments.js'
import { envLine, fullScanCounts, splitLines, writeSegment } from './fixtures/counts-util.js'
import { tmpDir } from './helpers/tmp.js'

afterEach(() => {
  forgetLogCounts()
  forgetTails()
})

const T = 1_750_000_000_000

/** 3000 items: ts rising, due times rising (half of them deferred relative to T + 1500s). */
function segLines(corruptEvery = 0): string[] {
  const out: string[] = []
  for (let i = 0; i < 3000; i++) {
    out.push(envLine({ ts: T + i, dueTs: T + i * 1000, payload: { i } }))
    if (corruptEvery > 0 && i % corruptEvery === 0) out.push('not an envelope')
  }
  return out
}

/** Put a checkpoint on the segment at the start of line `line` (and the count of lines before it). */
async function checkpointAtLine(log: string, line: number, opts: { items?: number; offsetDelta?: number } = {}): Promise<number> {
  const [seg] = await listSegments(logPaths(log).retry)
  const buf = fs.readFileSync(seg.key + (seg.gz ? '.gz' : ''))
  const plain = seg.gz ? (await import('node:zlib')).gunzipSync(buf) : buf
  const offset = (line === Infinity ? plain.length : splitLines(plain)[line].offset) + (opts.offsetDelta ?? 0)
  await writeCheckpoint(statePathOf(seg), { segment: path.basename(seg.key), offset, items: opts.items ?? line, updatedAt: 0 }, 0o600)
  return offset
}

async function expectExact(log: string, now: number): Promise<void> {
  const want = await fullScanCounts(log, now)
  for (let round = 0; round < 2; round++) {
    const got = await logCounts(log, { now })
    expect(got).toMatchObject({ ...want, dueExact: true, oldestPendingTsExact: true })
  }
}

describe('pending part of a partly replayed segment', () => {
  for (const gz of [false, true]) {
    it(`checkpoint exactly at a sample (${gz ? '.gz' : 'plain'}): exact without reading`, async () => {
      const log = path.join(tmpDir(), 'orders.log')
      writeSegment(log, 1, segLines(), { gz })
      await logCounts(log)
      await checkpointAtLine(log, 2 * SAMPLE_EVERY)
      const c = await logCounts(log, { now: T })
      expect(c.scannedBytes).toBe(0)
      expect(c.pending).toBe(3000 - 2 * SAMPLE_EVERY)
      await expectExact(log, T - 1)
      await expectExact(log, T + 10_000_000)
    })
  }

  it('plain, checkpoint inside a run: the rest of that run is read once, then remembered', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines())
    await logCounts(log)
    await checkpointAtLine(log, 1500)
    const first = await logCounts(log, { now: T + 1_700_000 })
    expect(first.scannedBytes).toBeGreaterThan(0)
    expect((await logCounts(log, { now: T + 1_700_000 })).scannedBytes).toBe(0)
    // Exact due count for a "now" inside the rest of the partly read run (1500..2047).
    await expectExact(log, T + 1_700_000)
  })

  it('plain: when the runs after the checkpoint straddle now but the consumed ones do not, due is still exact', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    // Run 0 all due; runs 1 and 2 alternate due / deferred (two distinct due times in all).
    const lines = Array.from({ length: 3000 }, (_, i) => envLine({ ts: T + i, dueTs: i < SAMPLE_EVERY || i % 2 === 0 ? T - 1000 : T + 1000, payload: i }))
    writeSegment(log, 1, lines)
    await checkpointAtLine(log, 1500)
    await expectExact(log, T)
  })

  it('.gz with many corrupt lines (positions not kept) or a checkpoint count that does not add up: read, exact', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines(2), { gz: true })
    const [seg] = await listSegments(logPaths(log).retry)
    expect((await scanSegmentMeta(seg, 1 << 20)).corruptAt).toBeUndefined()
    await checkpointAtLine(log, 2222)
    await expectExact(log, T + 2_000_000)
    // No corrupt lines, but the checkpoint's count is not within the run it points into.
    const log2 = path.join(tmpDir(), 'orders.log')
    writeSegment(log2, 1, segLines(), { gz: true })
    await checkpointAtLine(log2, 2222, { items: 5 })
    await expectExact(log2, T + 2_000_000)
  })

  it('.gz, checkpoint inside a run with a consistent count: pending exact, the run bounds the rest', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines(), { gz: true })
    await checkpointAtLine(log, 1500)
    const now = T + 10_000_000
    const want = await fullScanCounts(log, now)
    const got = await logCounts(log, { now })
    expect({ pending: got.pending, due: got.due, deferred: got.deferred }).toEqual({ pending: want.pending, due: want.due, deferred: want.deferred })
    expect(got.dueExact).toBe(true)
    // The run 1024..2047 starts before the checkpoint: its earliest time is a lower bound.
    expect(got.oldestPendingTsExact).toBe(false)
    expect(got.oldestPendingTs).toBe(T + SAMPLE_EVERY)
    expect(want.oldestPendingTs).toBe(T + 1500)
    // A "now" inside that run: estimated, flagged, within the run.
    const mid = await logCounts(log, { now: T + 1_800_000 })
    const midWant = await fullScanCounts(log, T + 1_800_000)
    expect(mid.dueExact).toBe(false)
    expect(Math.abs(mid.due - midWant.due)).toBeLessThanOrEqual(SAMPLE_EVERY)
  })

  it('a checkpoint replay would not resume from (not at a line start, past the end, unreadable): everything pending', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines(500))
    const [seg] = await listSegments(logPaths(log).retry)
    const cases: Array<() => Promise<unknown>> = [
      () => checkpointAtLine(log, 1500, { offsetDelta: 7 }),
      () => checkpointAtLine(log, Infinity, { offsetDelta: 100 }),
      async () => fs.writeFileSync(statePathOf(seg), '{"body":"x","crc":1}\n'),
    ]
    for (const make of cases) {
      await make()
      forgetLogCounts()
      const c = await logCounts(log, { now: T + 10_000_000 })
      // What a replay makes of it: every item again.
      const s = await replay(log, () => {}, { dryRun: true, now: () => T + 10_000_000 })
      expect(c.pending).toBe(s.handled - s.corrupt)
      expect(c.pending).toBe(3000)
    }
  })

  it('a checkpoint at the very end: nothing pending in the segment', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines())
    await checkpointAtLine(log, Infinity)
    expect(await logCounts(log)).toMatchObject({ pending: 0, oldestPendingTs: null, segments: 1 })
  })
})
