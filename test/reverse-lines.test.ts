/**
 * The backward line reader (src/store/reverse-lines.ts): the same lines as the forward reader
 * (src/format/lines.ts), with the same offsets, last first — whatever the chunk size, the record
 * limit or where the region starts — and a read stopped early costs the chunks it needed.
 */
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readLines } from '../src/format/lines.js'
import { type BackwardReadResult, readLinesBackward } from '../src/store/reverse-lines.js'
import { tmpDir } from './helpers/tmp.js'

const SEED = Number(process.env.FC_SEED ?? 20260611)

type Got = { offset: number; torn: boolean; hex?: string; oversized?: number }

async function forward(file: string, start: number, max: number): Promise<{ lines: Got[]; badStart?: string }> {
  const lines: Got[] = []
  const r = await readLines(
    file,
    false,
    start,
    max,
    {
      line: (buf, s, e, offset, _next, torn) => void lines.push({ offset, torn, hex: buf.subarray(s, e).toString('hex') }),
      oversized: (_head, offset, next, length) => void lines.push({ offset, torn: next === offset + length, oversized: length }),
    },
    () => false,
  )
  return { lines, badStart: r.badStart }
}

async function backward(file: string, start: number, max: number, chunk?: number, stopAfter = Infinity): Promise<{ lines: Got[]; res: BackwardReadResult }> {
  const lines: Got[] = []
  const res = await readLinesBackward(
    file,
    start,
    max,
    {
      line: (buf, s, e, offset, torn) => void lines.push({ offset, torn, hex: buf.subarray(s, e).toString('hex') }),
      oversized: (offset, length) => void lines.push({ offset, torn: false, oversized: length }),
    },
    () => lines.length >= stopAfter,
    chunk,
  )
  return { lines, res }
}

/** The forward reader tells an oversized torn line by its end; backward does not say (both report it unparseable). */
const comparable = (gs: Got[]) => gs.map((g) => (g.oversized !== undefined ? { offset: g.offset, oversized: g.oversized } : g))

describe('readLinesBackward', () => {
  it('property: the forward lines in reverse, for any content, region start, chunk size and limit', async () => {
    console.log(`reverse-lines property seed ${SEED}`)
    const dir = tmpDir()
    let n = 0
    const byte = fc.oneof({ weight: 12, arbitrary: fc.constant(0x61) }, { weight: 2, arbitrary: fc.constant(0x0d) }, { weight: 1, arbitrary: fc.constant(0xff) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) })
    const lineArb = fc.oneof({ weight: 4, arbitrary: fc.array(byte, { maxLength: 12 }) }, { weight: 1, arbitrary: fc.array(byte, { maxLength: 120 }) })
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 40 }),
        fc.boolean(),
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 0, max: 60 }),
        async (lines, trailingNewline, pick, startKind, chunk, max) => {
          const parts = lines.map((l) => Buffer.from(l))
          const text = Buffer.concat(parts.flatMap((p, i) => (i < parts.length - 1 || trailingNewline ? [p, Buffer.from('\n')] : [p])))
          // Where the region starts: the file's start, a line start (a checkpoint), anywhere, or past the end.
          const boundaries = [0]
          for (let i = 0; i < text.length; i++) if (text[i] === 0x0a) boundaries.push(i + 1)
          const start = [0, boundaries[pick % boundaries.length], pick % (text.length + 1), text.length + 1 + (pick % 3)][startKind]
          const file = path.join(dir, `f${n++}.log`)
          fs.writeFileSync(file, text)
          const f = await forward(file, start, max)
          const b = await backward(file, start, max, chunk)
          expect(b.res.error).toBeUndefined()
          expect(b.res.badStart).toBe(f.badStart)
          expect(comparable(b.lines)).toEqual(comparable(f.lines).reverse())
          // Each byte of the region is read once (plus the one before a resumed start).
          if (!b.res.badStart && start < text.length) expect(b.res.bytesRead).toBe(text.length - start + (start > 0 ? 1 : 0))
          fs.unlinkSync(file)
        },
      ),
      { seed: SEED, numRuns: 400 },
    )
  })

  it('reads only the last chunks when the reader stops early', async () => {
    const file = path.join(tmpDir(), 'big.log')
    const lines = Array.from({ length: 20_000 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(40)}"}`)
    fs.writeFileSync(file, lines.join('\n') + '\n')
    const size = fs.statSync(file).size
    const CHUNK = 4096

    const five = await backward(file, 0, 1 << 20, CHUNK, 5)
    expect(five.lines.map((l) => Buffer.from(l.hex!, 'hex').toString())).toEqual(lines.slice(-5).reverse())
    expect(five.res).toMatchObject({ stopped: true, reads: 1, bytesRead: CHUNK })

    // 200 lines of ~56 bytes span three 4 KiB chunks (a line cut by a chunk's start stays in
    // the buffer, so later reads are a little shorter).
    const more = await backward(file, 0, 1 << 20, CHUNK, 200)
    expect(more.res).toMatchObject({ stopped: true, reads: 3 })
    expect(more.res.bytesRead).toBeLessThanOrEqual(3 * CHUNK)

    const all = await backward(file, 0, 1 << 20, CHUNK)
    expect(all.lines).toHaveLength(lines.length)
    // Every byte once; each read fills the chunk but for the start of a line cut by the previous one.
    expect(all.res).toMatchObject({ stopped: false, bytesRead: size })
    expect(all.res.reads).toBeLessThanOrEqual(Math.ceil(size / (CHUNK - 64)))
  })

  it('reports a line over the limit by offset and length, and reads on past it', async () => {
    const file = path.join(tmpDir(), 'long.log')
    const huge = 'h'.repeat(3 * 1024 * 1024)
    fs.writeFileSync(file, `first\n${huge}\r\nlast\n`)
    // Over a 1 MiB limit: reported, never held (the buffer stays at 64 KiB).
    const over = await backward(file, 0, 1024 * 1024, 64 * 1024)
    expect(over.lines).toEqual([
      { offset: 6 + huge.length + 2, torn: false, hex: Buffer.from('last').toString('hex') },
      { offset: 6, torn: false, oversized: huge.length + 1 },
      { offset: 0, torn: false, hex: Buffer.from('first').toString('hex') },
    ])
    expect(comparable(over.lines)).toEqual(comparable((await forward(file, 0, 1024 * 1024)).lines).reverse())
    // Within a 4 MiB limit the same line is read whole across chunks (the forward reader goes
    // through its stream path for it: longer than its 1 MiB buffer).
    const whole = await backward(file, 0, 4 * 1024 * 1024, 64 * 1024)
    expect(whole.lines[1]).toEqual({ offset: 6, torn: false, hex: Buffer.from(huge + '\r').toString('hex') })
    expect(whole.lines).toEqual((await forward(file, 0, 4 * 1024 * 1024)).lines.reverse())
  })

  it('does not hold a line over the limit while it looks for its start', async () => {
    const file = path.join(tmpDir(), 'sparse.log')
    const LONG = 64 * 1024 * 1024
    fs.writeFileSync(file, 'first\n')
    fs.truncateSync(file, 6 + LONG) // a hole: 64 MiB of zero bytes, no newline
    fs.appendFileSync(file, '\nlast\n')
    const base = process.memoryUsage().arrayBuffers
    let peak = 0
    const got: Array<[number, number | string]> = []
    const res = await readLinesBackward(
      file,
      0,
      1024 * 1024,
      { line: (buf, s, e, offset) => void got.push([offset, buf.toString('utf8', s, e)]), oversized: (offset, length) => void got.push([offset, length]) },
      () => {
        // Called before each chunk: what the reader holds shows here.
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)
        return false
      },
      64 * 1024,
    )
    expect(res.error).toBeUndefined()
    expect(got).toEqual([
      [6 + LONG + 1, 'last'],
      [6, LONG],
      [0, 'first'],
    ])
    expect(peak).toBeLessThan(8 * 1024 * 1024)
  })

  it('a missing file rejects with ENOENT; an error thrown by the handler is not taken for a read error', async () => {
    const dir = tmpDir()
    await expect(backward(path.join(dir, 'gone.log'), 0, 100)).rejects.toMatchObject({ code: 'ENOENT' })
    const file = path.join(dir, 'a.log')
    fs.writeFileSync(file, 'a\nb\n')
    const boom = readLinesBackward(
      file,
      0,
      100,
      {
        line: () => {
          throw new Error('handler bug')
        },
        oversized: () => {},
      },
      () => false,
    )
    await expect(boom).rejects.toThrow('handler bug')
  })

  it('waits for a handler that returns a promise before the next line', async () => {
    const file = path.join(tmpDir(), 'a.log')
    fs.writeFileSync(file, 'a\nb\nc\n')
    const seen: string[] = []
    let pending = 0
    await readLinesBackward(
      file,
      0,
      100,
      {
        line: async (buf, s, e) => {
          expect(pending).toBe(0)
          pending++
          const text = buf.toString('utf8', s, e)
          await new Promise((r) => setImmediate(r))
          seen.push(text)
          pending--
        },
        oversized: () => {},
      },
      () => false,
    )
    expect(seen).toEqual(['c', 'b', 'a'])
  })
})
