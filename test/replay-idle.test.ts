/**
 * Idle runs cost O(segments): a segment whose metadata sidecar shows nothing due yet (and,
 * with ttl, nothing expiring) is left in place unread; re-logs are grouped by due time so a
 * far-deferred item never shares a segment with one due soon.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { replay } from '../src/index.js'
import { readSegmentMeta } from '../src/store/counts/segment-meta.js'
import { listSegments, logPaths } from '../src/store/segments.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, replayerSegments, retryRecords, snapshot, writeSegment } from './fixtures/replay-util.js'

const NOW = 1_800_000_000_000
const MIN = 60_000
const HOUR = 60 * MIN

/** `n` items that fail once at NOW and are re-logged about an hour out into replayer segments. */
async function deferredLog(n: number): Promise<string> {
  const log = path.join(tmpDir(), 'orders.log')
  writeSegment(log, 1, Array.from({ length: n }, (_, i) => envLine({ ts: NOW - 1000, id: `i${i}`, payload: i })))
  const s = await replay(
    log,
    () => {
      throw new Error('down')
    },
    { now: () => NOW, initialWait: '1h', maxWait: '1h', random: () => 0 },
  )
  expect(s.requeued).toBe(n)
  return log
}

describe('idle runs', () => {
  it('leave a segment with nothing due untouched and unread, counted as deferred', async () => {
    const log = await deferredLog(50)
    const dir = path.dirname(log)
    const [seg] = await listSegments(logPaths(log).retry)
    expect(await readSegmentMeta(seg)).toMatchObject({ items: 50, minDue: NOW + HOUR, maxDue: NOW + HOUR })
    const before = snapshot(dir)
    let calls = 0
    const s = await replay(log, () => void calls++, { now: () => NOW + 30 * MIN })
    expect(calls).toBe(0)
    expect(s).toMatchObject({ handled: 50, deferred: 50, segments: 0, segmentsSkipped: 1, bytes: 0, segmentsRemoved: 0 })
    expect(snapshot(dir)).toEqual(before)
  })

  it('read the segment once its earliest item is due, and remove its metadata with it', async () => {
    const log = await deferredLog(20)
    const dir = path.dirname(log)
    const s = await replay(log, () => {}, { now: () => NOW + HOUR })
    expect(s).toMatchObject({ handled: 20, delivered: 20, segmentsSkipped: 0, segmentsRemoved: 1 })
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.meta') || f.endsWith('.state'))).toEqual([])
  })

  it('with ttl, read a segment whose items are expiring even when none is due', async () => {
    const log = await deferredLog(10)
    const s = await replay(log, () => {}, { now: () => NOW + 30 * MIN, ttl: '10m' })
    expect(s).toMatchObject({ handled: 10, expired: 10, segmentsSkipped: 0 })
    const kept = await replay(await deferredLog(10), () => {}, { now: () => NOW + 30 * MIN, ttl: '1d' })
    expect(kept).toMatchObject({ handled: 10, deferred: 10, segmentsSkipped: 1 })
  })

  it('read a segment whose metadata no longer matches it (changed since it was written)', async () => {
    const log = await deferredLog(5)
    const [seg] = await listSegments(logPaths(log).retry)
    fs.appendFileSync(seg.path, envLine({ ts: NOW, id: 'due-now', payload: 'x' }) + '\n')
    const got: unknown[] = []
    const s = await replay(log, (p) => void got.push(p), { now: () => NOW + MIN })
    expect(got).toEqual(['x'])
    expect(s).toMatchObject({ handled: 6, delivered: 1, deferred: 5, segmentsSkipped: 0 })
  })

  it('group carried-forward items by due time: soon and far never share a segment', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lines = [
      envLine({ ts: NOW, id: 'soon', dueTs: NOW + 30_000, payload: 1 }),
      envLine({ ts: NOW, id: 'far', dueTs: NOW + 5 * HOUR, payload: 2 }),
      envLine({ ts: NOW, id: 'soon2', dueTs: NOW + 50_000, payload: 3 }),
    ]
    writeSegment(log, 1, lines)
    const s = await replay(log, () => {}, { now: () => NOW })
    expect(s.deferred).toBe(3)
    const byFile = new Map<string, string[]>()
    for (const r of retryRecords(log)) byFile.set(r.file, [...(byFile.get(r.file) ?? []), String(r.obj.id)])
    expect([...byFile.values()].map((ids) => ids.sort()).sort()).toEqual([['far'], ['soon', 'soon2']])
    expect(replayerSegments(log)).toHaveLength(2)
    // A minute later the "soon" segment is read; the "far" one is skipped unread.
    const later = await replay(log, () => {}, { now: () => NOW + 2 * MIN })
    expect(later).toMatchObject({ delivered: 2, deferred: 1, segmentsSkipped: 1, segmentsRemoved: 1 })
  })
})

describe('idle-run skipping changes no outcome', () => {
  it('items left in a skipped segment do not use up `limit`: the due items behind them are replayed', async () => {
    const log = await deferredLog(5)
    // Five new failures, due at once, in a writer segment sealed after the deferred ones: its
    // mtime is set past theirs, since both may be written within one clock tick (replay orders
    // segments by mtime, and a tie puts writer segments first).
    const [deferred] = await listSegments(logPaths(log).retry)
    writeSegment(log, 2, Array.from({ length: 5 }, (_, i) => envLine({ ts: NOW, id: `new${i}`, payload: 100 + i })), {
      mtime: deferred.mtimeMs / 1000 + 10,
    })
    const got: unknown[] = []
    const s = await replay(log, (p) => void got.push(p), { now: () => NOW + MIN, limit: 5 })
    expect(got).toEqual([100, 101, 102, 103, 104])
    expect(s).toMatchObject({ delivered: 5, deferred: 5, segmentsSkipped: 1, stopped: 'limit' })
  })

  it('a skipped segment holding an exhausted item is read, as it would be without metadata', async () => {
    const log = await deferredLog(3) // attempt 2 now, due in an hour
    const [seg] = await listSegments(logPaths(log).retry)
    expect(await readSegmentMeta(seg)).toMatchObject({ maxAttempt: 2 })
    const s = await replay(log, () => {}, { now: () => NOW + MIN, maxAttempts: 2 })
    expect(s).toMatchObject({ permanent: 3, deferred: 0, segmentsSkipped: 0 })
    expect(retryRecords(log)).toEqual([])
  })
})
