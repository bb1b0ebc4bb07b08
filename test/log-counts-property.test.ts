/**
 * Property: for random logs (plain and .gz segments, corrupt lines, spread due times, a
 * checkpoint anywhere) logCounts agrees with a full scan: pending, permanent and corrupt
 * always; due and the oldest time whenever it says they are exact, and within its bounds
 * otherwise.
 */
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { writeCheckpoint } from '../src/store/checkpoint.js'
import { forgetTails } from '../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts } from '../src/store/counts/log-counts.js'
import { listSegments, logPaths, statePathOf } from '../src/store/segments.js'
import { envLine, fullScanCounts, splitLines, writeSegment } from './fixtures/counts-util.js'
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
  // A coarse grid (≤ 42 distinct due times per segment) fits the histogram exactly: "due" must
  // come out exact nearly always. A fine one (~2000 distinct) exercises the interpolated bounds.
  it.each([
    ['coarse', 20],
    ['fine', 1000],
  ])('matches a full scan of random logs with random checkpoints (%s times)', async (grid, spread) => {
    console.log(`log-counts property seed ${SEED}, ${grid} grid`)
    const exact = { due: 0, oldest: 0, runs: 0, maxLines: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ lines: fc.array(lineArb(spread), { minLength: 1, maxLength: 2600, size: 'max' }), gz: fc.boolean(), cut: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: -spread - 5, max: spread + 5 }),
        async (segs, nowOff) => {
          const log = path.join(tmpDir(), 'orders.log')
          let n = 0
          exact.maxLines = Math.max(exact.maxLines, ...segs.map((x) => x.lines.length))
          for (const [i, s] of segs.entries()) {
            const text = s.lines.map((l) =>
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
            const at = Math.floor(segs[i].cut * (lines.length + 1))
            if (at === 0) continue
            const offset = at >= lines.length ? plain.length : lines[at].offset
            await writeCheckpoint(statePathOf(seg), { segment: path.basename(seg.key), offset, items: at, updatedAt: 0 }, 0o600)
          }
          const now = T + nowOff * 1000
          const want = await fullScanCounts(log, now)
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
            if (got.dueExact) expect(got.due).toBe(want.due)
            else expect(Math.abs(got.due - want.due)).toBeLessThanOrEqual(1024 * segs.length)
            if (got.oldestPendingTsExact) expect(got.oldestPendingTs).toBe(want.oldestPendingTs)
            else expect(got.oldestPendingTs!).toBeLessThanOrEqual(want.oldestPendingTs!)
          }
        },
      ),
      { seed: SEED, numRuns: 25 },
    )
    // The exact branches must be the common case, or the checks above prove little.
    console.log(`exact due in ${exact.due}/${exact.runs} counts, exact oldest in ${exact.oldest}/${exact.runs}; longest segment ${exact.maxLines} lines`)
    if (grid === 'coarse') expect(exact.due * 2).toBeGreaterThan(exact.runs)
    // Long enough to span several runs of 1024 items (samples, partly read runs).
    expect(exact.maxLines).toBeGreaterThan(2 * 1024)
  })
})
