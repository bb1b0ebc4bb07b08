/**
 * Per-segment checkpoints: where they point during a run, resuming from them, and what
 * happens when they cannot be trusted (duplicates, never loss).
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { replay } from '../src/index.js'
import { Replayer } from '../src/replay/index.js'
import { readCheckpoint, writeCheckpoint } from '../src/store/checkpoint.js'
import { tmpDir } from './helpers/tmp.js'
import { deferred, envLine, lineOffsets, stateFiles, until, writeSegment } from './fixtures/replay-util.js'

const SEG = 'orders.000000000001.log'

function setup(n = 10): { dir: string; log: string; lines: string[]; offsets: number[]; segFile: string; state: string } {
  const dir = tmpDir()
  const log = path.join(dir, 'orders.log')
  const lines = Array.from({ length: n }, (_, i) => envLine({ id: `i${i}`, payload: i }))
  const segFile = writeSegment(log, 1, lines)
  return { dir, log, lines, offsets: lineOffsets(lines), segFile, state: path.join(dir, `${SEG}.state`) }
}

async function deliveredBy(log: string, opts = {}): Promise<{ got: number[]; warnings: string[] }> {
  const got: number[] = []
  const s = await replay(log, (p) => {
    got.push(p as number)
  }, opts)
  return { got, warnings: s.warnings }
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i)

describe('checkpoint during a run', () => {
  it('points at the first unfinished item, at a line boundary, and goes away with the segment', async () => {
    const { log, offsets, state, segFile } = setup(10)
    const gate = deferred()
    const reached = deferred()
    const run = replay(
      log,
      async (p) => {
        if (p === 6) {
          reached.resolve()
          await gate.promise
        }
      },
      { checkpointEvery: 1, checkpointInterval: '1h' },
    )
    await reached.promise
    await until(() => fs.existsSync(state), 5000, 'state file')
    const cp = await readCheckpoint(state, SEG)
    expect(cp).toMatchObject({ status: 'ok', checkpoint: { segment: SEG, offset: offsets[6], items: 6 } })
    gate.resolve()
    const s = await run
    expect(s.segmentsRemoved).toBe(1)
    expect(fs.existsSync(state)).toBe(false)
    expect(fs.existsSync(segFile)).toBe(false)
  })

  it('is written every checkpointEvery items', async () => {
    const { log, offsets, state } = setup(10)
    const gate = deferred()
    const reached = deferred()
    const run = replay(
      log,
      async (p) => {
        if (p === 7) {
          reached.resolve()
          await gate.promise
        }
      },
      { checkpointEvery: 3, checkpointInterval: '1h' },
    )
    await reached.promise
    const cp = await readCheckpoint(state, SEG)
    expect(cp).toMatchObject({ status: 'ok', checkpoint: { offset: offsets[6] } })
    gate.resolve()
    await run
  })

  it('by default every 1000 items', async () => {
    const { log, offsets, state } = setup(1200)
    const gate = deferred()
    const reached = deferred()
    const run = replay(
      log,
      async (p) => {
        if (p === 1100) {
          reached.resolve()
          await gate.promise
        }
      },
      { checkpointInterval: '1h' },
    )
    await reached.promise
    expect(await readCheckpoint(state, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: offsets[1000], items: 1000 } })
    gate.resolve()
    await run
  })

  it('is written after checkpointInterval even when fewer than checkpointEvery items finished', async () => {
    const { log, offsets, state } = setup(10)
    const gate = deferred()
    const reached = deferred()
    const run = replay(
      log,
      async (p) => {
        if (p === 4) {
          reached.resolve()
          await gate.promise
        }
      },
      { checkpointEvery: 1000, checkpointInterval: 0 },
    )
    await reached.promise
    expect(await readCheckpoint(state, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: offsets[4] } })
    gate.resolve()
    await run
  })

  it('leaves the segment and its state in place when the run stops early', async () => {
    const { log, offsets, state, segFile } = setup(10)
    const s = await replay(log, () => {}, { limit: 4 })
    expect(s.segmentsRemoved).toBe(0)
    expect(fs.existsSync(segFile)).toBe(true)
    expect(await readCheckpoint(state, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: offsets[4], items: 4 } })
  })
})

describe('resuming', () => {
  it('from a valid checkpoint delivers only the items after it', async () => {
    const { log, offsets, state } = setup(10)
    await writeCheckpoint(state, { segment: SEG, offset: offsets[7], items: 7, updatedAt: 1 }, 0o600)
    const { got, warnings } = await deliveredBy(log)
    expect(got).toEqual([7, 8, 9])
    expect(warnings).toEqual([])
    expect(stateFiles(path.dirname(log))).toEqual([])
  })

  it('a checkpoint at the very end drains the segment without delivering anything', async () => {
    const { log, offsets, state, segFile, lines } = setup(5)
    await writeCheckpoint(state, { segment: SEG, offset: offsets[4] + lines[4].length + 1, items: 5, updatedAt: 1 }, 0o600)
    const { got, warnings } = await deliveredBy(log)
    expect(got).toEqual([])
    expect(warnings).toEqual([])
    expect(fs.existsSync(segFile)).toBe(false)
  })

  it('survives the segment being compressed between runs (the state is keyed by the uncompressed name)', async () => {
    const { log, offsets, state, segFile } = setup(10)
    await writeCheckpoint(state, { segment: SEG, offset: offsets[3], items: 3, updatedAt: 1 }, 0o600)
    fs.writeFileSync(segFile + '.gz', zlib.gzipSync(fs.readFileSync(segFile)))
    fs.unlinkSync(segFile)
    const { got, warnings } = await deliveredBy(log)
    expect(got).toEqual(range(3, 10))
    expect(warnings).toEqual([])
    expect(fs.readdirSync(path.dirname(log))).toEqual([])
  })

  it('removes a state file whose segment is gone (crash between the two removals)', async () => {
    const { dir, log } = setup(2)
    const orphan = path.join(dir, 'orders.000000000099.log.state')
    await writeCheckpoint(orphan, { segment: 'orders.000000000099.log', offset: 0, items: 0, updatedAt: 1 }, 0o600)
    const foreign = path.join(dir, 'notes.state')
    fs.writeFileSync(foreign, 'keep me')
    await deliveredBy(log)
    expect(fs.existsSync(orphan)).toBe(false)
    expect(fs.existsSync(foreign)).toBe(true)
  })
})

describe('crash leftovers', () => {
  it('removes the temp file of a checkpoint write cut short by a crash, and only ours', async () => {
    const { dir, log } = setup(3)
    const ours = [`${SEG}.state.tmp-4242-7`, 'orders.000000000031.log.state.tmp-1-1']
    const foreign = ['notes.state.tmp-1-1', `${SEG}.state.tmp-x`, 'other.000000000001.log.state.tmp-1-1']
    for (const f of [...ours, ...foreign]) fs.writeFileSync(path.join(dir, f), '{"bo')
    const { got } = await deliveredBy(log)
    expect(got).toEqual([0, 1, 2])
    expect(fs.readdirSync(dir).sort()).toEqual(foreign.sort())
  })
})

describe('an untrustworthy checkpoint restarts its segment from the start, with a warning', () => {
  const cases: Array<[string, (s: { state: string; offsets: number[]; segFile: string; lines: string[] }) => Promise<void> | void, RegExp]> = [
    ['garbage in the state file', ({ state }) => fs.writeFileSync(state, 'garbage'), /unreadable/],
    [
      'a flipped byte (CRC mismatch)',
      async ({ state, offsets }) => {
        await writeCheckpoint(state, { segment: SEG, offset: offsets[5], items: 5, updatedAt: 1 }, 0o600)
        // latin1: byte for byte, so only the digit changes.
        fs.writeFileSync(state, fs.readFileSync(state, 'latin1').replace(String(offsets[5]), String(offsets[5] + 1)), 'latin1')
      },
      /unreadable/,
    ],
    ['a torn (empty) state file', ({ state }) => fs.writeFileSync(state, ''), /unreadable/],
    [
      'an offset in the middle of a line',
      ({ state, offsets }) => writeCheckpoint(state, { segment: SEG, offset: offsets[5] + 3, items: 5, updatedAt: 1 }, 0o600),
      /not at a line boundary/,
    ],
    [
      'an offset past the end of the segment',
      ({ state }) => writeCheckpoint(state, { segment: SEG, offset: 1_000_000, items: 5, updatedAt: 1 }, 0o600),
      /past its end/,
    ],
    [
      'an offset past the end of a compressed segment',
      ({ state, segFile }) => {
        fs.writeFileSync(segFile + '.gz', zlib.gzipSync(fs.readFileSync(segFile)))
        fs.unlinkSync(segFile)
        return writeCheckpoint(state, { segment: SEG, offset: 1_000_000, items: 5, updatedAt: 1 }, 0o600)
      },
      /past its end/,
    ],
    [
      'a mid-line offset in a compressed segment',
      ({ state, segFile, offsets }) => {
        fs.writeFileSync(segFile + '.gz', zlib.gzipSync(fs.readFileSync(segFile)))
        fs.unlinkSync(segFile)
        return writeCheckpoint(state, { segment: SEG, offset: offsets[8] - 2, items: 5, updatedAt: 1 }, 0o600)
      },
      /not at a line boundary/,
    ],
    [
      "another segment's state copied over",
      ({ state, offsets }) => writeCheckpoint(state, { segment: 'orders.000000000002.log', offset: offsets[5], items: 5, updatedAt: 1 }, 0o600),
      /unreadable/,
    ],
  ]

  for (const [name, corrupt, warning] of cases) {
    it(name, async () => {
      const ctx = setup(10)
      await corrupt(ctx)
      const warnEvents: string[] = []
      const got: number[] = []
      const r = new Replayer(ctx.log, (p) => {
        got.push(p as number)
      })
      r.on('warning', (e) => warnEvents.push(e.message))
      const s = await r.run()
      expect(got).toEqual(range(0, 10))
      expect(s.warnings).toHaveLength(1)
      expect(s.warnings[0]).toMatch(warning)
      expect(s.warnings[0]).toMatch(/duplicates possible/)
      expect(warnEvents).toHaveLength(1)
      expect(s.segmentsRemoved).toBe(1)
      expect(fs.readdirSync(ctx.dir)).toEqual([])
    })
  }
})
