/**
 * The pending part of a partly replayed segment, as docs/log-counts.md states it: without
 * corrupt lines, counted from the checkpoint's own line count (nothing read; `due` exact when
 * the segment's due times lie on one side of now, else within the documented bound and
 * flagged; the oldest time the segment's, a flagged lower bound); with corrupt lines, or a line
 * count that cannot be right, the rest read once per checkpoint position, exact; a checkpoint
 * replay would not resume from, the whole segment. An old (version 1) sidecar is rebuilt,
 * never trusted.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { writeCheckpoint } from '../src/store/checkpoint.js'
import { forgetTails } from '../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts } from '../src/store/counts/log-counts.js'
import { replay } from '../src/index.js'
import { listSegments, logPaths, metaPathOf, statePathOf } from '../src/store/segments.js'
import { documentedBounds, envLine, fullScanCounts, splitLines, writeSegment } from './fixtures/counts-util.js'
import { tmpDir } from './helpers/tmp.js'

afterEach(() => {
  forgetLogCounts()
  forgetTails()
})

const T = 1_750_000_000_000

/**
 * 3000 items, ts rising, in due order (as replay leaves them): 50 distinct due times a second
 * apart from T, so every histogram is exact and only the checkpoint matters. Plus a bad line
 * every `corruptEvery`.
 */
function segLines(corruptEvery = 0): string[] {
  const out: string[] = []
  for (let i = 0; i < 3000; i++) {
    out.push(envLine({ ts: T + i, dueTs: T + Math.floor(i / 60) * 1000, payload: { i } }))
    if (corruptEvery > 0 && i % corruptEvery === 0) out.push('not an envelope')
  }
  return out
}

/** A checkpoint at the start of line `line`, naming `items` lines before it (default: `line`). */
async function checkpointAtLine(log: string, line: number, opts: { items?: number; offsetDelta?: number } = {}): Promise<number> {
  const [seg] = await listSegments(logPaths(log).retry)
  const buf = fs.readFileSync(seg.path)
  const plain = seg.gz ? zlib.gunzipSync(buf) : buf
  const offset = (line === Infinity ? plain.length : splitLines(plain)[line].offset) + (opts.offsetDelta ?? 0)
  await writeCheckpoint(statePathOf(seg), { segment: path.basename(seg.key), offset, items: opts.items ?? line, updatedAt: 0 }, 0o600)
  return offset
}

async function expectExact(log: string, now: number): Promise<void> {
  const want = await fullScanCounts(log, now)
  for (let round = 0; round < 2; round++) {
    expect(await logCounts(log, { now })).toMatchObject({ ...want, dueExact: true, oldestPendingTsExact: true })
  }
}

describe('a partly replayed segment without corrupt lines: counted from the checkpoint', () => {
  for (const gz of [false, true]) {
    it(`${gz ? '.gz' : 'plain'}: pending exact without reading; due exact on either side of the due range; the oldest time a flagged lower bound`, async () => {
      const log = path.join(tmpDir(), 'orders.log')
      writeSegment(log, 1, segLines(), { gz })
      await logCounts(log)
      await checkpointAtLine(log, 1500)
      for (const now of [T - 1, T + 49 * 1000]) {
        const want = await fullScanCounts(log, now)
        const got = await logCounts(log, { now })
        expect(got).toMatchObject({ pending: 1500, due: want.due, deferred: want.deferred, dueExact: true, scannedBytes: 0 })
        // The segment's earliest time belongs to a consumed item: older than the truth, and flagged.
        expect(want.oldestPendingTs).toBe(T + 1500)
        expect(got).toMatchObject({ oldestPendingTs: T, oldestPendingTsExact: false })
      }
    })
  }

  it('due times on both sides of now: flagged, within the documented bound, the consumed items taken as the earliest due', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines())
    await logCounts(log)
    await checkpointAtLine(log, 1000)
    for (const sec of [10, 30, 48]) {
      const now = T + sec * 1000
      const want = await fullScanCounts(log, now)
      const got = await logCounts(log, { now })
      const { dueSlack } = await documentedBounds(log, now)
      expect(got.dueExact).toBe(false)
      expect(dueSlack).toBe(1000)
      expect(Math.abs(got.due - want.due)).toBeLessThanOrEqual(dueSlack)
      // Due order: the estimate is the truth.
      expect(got.due).toBe(want.due)
      expect(got.deferred).toBe(got.pending - got.due)
    }
  })
})

describe('a partly replayed segment read past the checkpoint', () => {
  for (const gz of [false, true]) {
    it(`${gz ? '.gz' : 'plain'} with corrupt lines: read once per checkpoint position, exact`, async () => {
      const log = path.join(tmpDir(), 'orders.log')
      writeSegment(log, 1, segLines(7), { gz })
      await logCounts(log)
      await checkpointAtLine(log, 1500)
      const now = T + 30_000
      const first = await logCounts(log, { now })
      expect(first.scannedBytes).toBeGreaterThan(0)
      expect((await logCounts(log, { now })).scannedBytes).toBe(0)
      await expectExact(log, now)
      // Moved on: read again.
      await checkpointAtLine(log, 2500)
      expect((await logCounts(log, { now })).scannedBytes).toBeGreaterThan(0)
      await expectExact(log, now)
    })
  }

  it('a line count that cannot be right (none, or not below the items): read, exact', async () => {
    for (const items of [0, 3000, 4000]) {
      const log = path.join(tmpDir(), 'orders.log')
      writeSegment(log, 1, segLines())
      await checkpointAtLine(log, 1234, { items })
      await expectExact(log, T + 33_000)
    }
  })
})

describe('a checkpoint replay would not resume from', () => {
  it('not at a line start, past the end, unreadable: everything pending, as replay sees it', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines())
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
      const s = await replay(log, () => {}, { dryRun: true, now: () => T + 10_000_000 })
      expect(c.pending).toBe(s.handled - s.corrupt)
      expect(c).toMatchObject({ pending: 3000, dueExact: true, oldestPendingTsExact: true })
    }
  })

  it('a checkpoint at the very end: nothing pending in the segment', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines())
    await checkpointAtLine(log, Infinity)
    expect(await logCounts(log)).toMatchObject({ pending: 0, oldestPendingTs: null, segments: 1, dueExact: true, oldestPendingTsExact: true })
  })
})

describe('sidecar versions', () => {
  it('an old (version 1) sidecar is never trusted: the segment is read once and the sidecar rewritten', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, segLines())
    const [seg] = await listSegments(logPaths(log).retry)
    const st = fs.lstatSync(seg.path)
    // Well-formed for version 1, describing this very file, with wrong counts.
    const v1 = {
      v: 1,
      items: 7,
      corrupt: 0,
      bytes: st.size,
      minTs: T,
      maxTs: T,
      minDue: T,
      maxDue: T,
      dueHist: [[T, 7]],
      dueHistLow: [T],
      samples: [],
      blocks: [[T, T, T]],
      file: { size: st.size, ino: st.ino, mtimeMs: st.mtimeMs },
    }
    fs.writeFileSync(metaPathOf(seg.key), JSON.stringify(v1))
    const c = await logCounts(log, { now: T + 10_000_000 })
    expect(c).toMatchObject({ pending: 3000, due: 3000, oldestPendingTs: T })
    expect(c.scannedBytes).toBe(st.size)
    expect(JSON.parse(fs.readFileSync(metaPathOf(seg.key), 'utf8'))).toMatchObject({ v: 2, items: 3000 })
    forgetLogCounts()
    expect((await logCounts(log, { now: T + 10_000_000 })).scannedBytes).toBe(0)
  })
})
