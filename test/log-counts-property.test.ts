/**
 * Property: for random logs (plain and .gz segments, corrupt lines, spread due times, a
 * checkpoint anywhere) logCounts agrees with a full scan: pending, permanent and corrupt
 * always; due and the oldest time whenever it says they are exact, and within the bounds
 * docs/log-counts.md gives otherwise (fixtures/counts-util.ts documentedBounds).
 */
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { writeCheckpoint } from '../src/store/checkpoint.js'
import { forgetTails } from '../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts } from '../src/store/counts/log-counts.js'
import { listSegments, logPaths, statePathOf } from '../src/store/segments.js'
import { documentedBounds, envLine, fullScanCounts, splitLines, writeSegment } from './fixtures/counts-util.js'
import { tmpDir } from './helpers/tmp.js'

const SEED = Number(process.env.FC_SEED ?? 4242)
const T = 1_760_000_000_000

afterEach(() => {
  forgetLogCounts()
  forgetTails()
})

/** Lines with times on a grid of `spread` seconds around T. */
const lineArb = (spread: number) =>
  fc.oneof(
    {
      weight: 20,
      arbitrary: fc.record({
        k: fc.constant('item' as const),
        age: fc.integer({ min: 0, max: spread }),
        due: fc.option(fc.integer({ min: -spread, max: spread }), { nil: undefined }),
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom({ k: 'bad' as const }, { k: 'empty' as const }) },
  )

describe('logCounts property', () => {
  // A coarse grid (≤ 42 distinct due times per segment) fits the histogram exactly: only a
  // partly consumed segment counted from its checkpoint makes "due" inexact. A fine one (~2000
  // distinct) exercises the interpolated buckets too.
  it.each([
    ['coarse', 20],
    ['fine', 1000],
  ])('matches a full scan of random logs with random checkpoints (%s times)', async (grid, spread) => {
    console.log(`log-counts property seed ${SEED}, ${grid} grid`)
    const exact = { due: 0, oldest: 0, runs: 0, maxLines: 0, fromCheckpoint: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            lines: fc.array(lineArb(spread), { minLength: 1, maxLength: 2600, size: 'max' }),
            gz: fc.boolean(),
            // Percent of the lines before the checkpoint (a double would mostly be 0 or 1).
            cut: fc.integer({ min: 0, max: 100 }),
            // Without corrupt lines (every segment a replayer writes): counted from the checkpoint.
            clean: fc.boolean(),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        fc.integer({ min: -spread - 5, max: spread + 5 }),
        async (segs, nowOff) => {
          const log = path.join(tmpDir(), 'orders.log')
          let n = 0
          exact.maxLines = Math.max(exact.maxLines, ...segs.map((x) => x.lines.length))
          for (const [i, s] of segs.entries()) {
            const text = s.lines.filter((l) => !s.clean || l.k === 'item').map((l) =>
              l.k === 'bad' ? 'not json' : l.k === 'empty' ? '' : envLine({ ts: T - l.age * 1000, dueTs: l.due === undefined ? undefined : T + l.due * 1000, payload: n++ }),
            )
            writeSegment(log, i + 1, text, { gz: s.gz })
          }
          forgetLogCounts()
          forgetTails()
          await logCounts(log) // sidecars written before the checkpoints appear, as in real life
          const list = await listSegments(logPaths(log).retry)
          for (const [i, seg] of list.entries()) {
            const body = fs.readFileSync(seg.path)
            const plain = seg.gz ? (await import('node:zlib')).gunzipSync(body) : body
            const lines = splitLines(plain)
            const at = Math.floor((segs[i].cut / 100) * (lines.length + 1))
            if (segs[i].clean && at > 0 && at < lines.length) exact.fromCheckpoint++
            if (at === 0) continue
            const offset = at >= lines.length ? plain.length : lines[at].offset
            await writeCheckpoint(statePathOf(seg), { segment: path.basename(seg.key), offset, items: at, updatedAt: 0 }, 0o600)
          }
          const now = T + nowOff * 1000
          const want = await fullScanCounts(log, now)
          const bound = await documentedBounds(log, now)
          for (const cold of [true, false]) {
            if (cold) {
              forgetLogCounts()
              forgetTails()
            }
            const got = await logCounts(log, { now })
            exact.runs++
            if (got.dueExact) exact.due++
            if (got.oldestPendingTsExact) exact.oldest++
            expect([got.pending, got.permanent, got.corrupt]).toEqual([want.pending, want.permanent, want.corrupt])
            expect(got.deferred).toBe(got.pending - got.due)
            // The flag is truthful both ways: inexact exactly where the documented bound is not zero.
            expect(got.dueExact).toBe(bound.dueSlack === 0)
            expect(Math.abs(got.due - want.due)).toBeLessThanOrEqual(bound.dueSlack)
            if (got.oldestPendingTsExact) expect(got.oldestPendingTs).toBe(want.oldestPendingTs)
            else {
              expect(got.oldestPendingTs!).toBeLessThanOrEqual(want.oldestPendingTs!)
              expect(got.oldestPendingTs!).toBeGreaterThanOrEqual(bound.oldestFloor!)
            }
          }
        },
      ),
      { seed: SEED, numRuns: 25 },
    )
    // Both ways of counting a partly consumed segment, and exact and inexact answers, must be exercised.
    console.log(
      `exact due in ${exact.due}/${exact.runs} counts, exact oldest in ${exact.oldest}/${exact.runs}; ` +
        `${exact.fromCheckpoint} segments counted from their checkpoint; longest segment ${exact.maxLines} lines`,
    )
    expect(exact.fromCheckpoint).toBeGreaterThan(5)
    for (const n of [exact.due, exact.oldest]) {
      expect(n).toBeGreaterThan(0)
      expect(n).toBeLessThan(exact.runs)
    }
    // Long segments: their histograms merge buckets (interpolated counts).
    expect(exact.maxLines).toBeGreaterThan(2 * 1024)
  })
})
