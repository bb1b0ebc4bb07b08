import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { readLines, type LineHandler, type ReadResult } from '../src/format/lines.js'
import { tmpDir } from './helpers/tmp.js'

interface Seen {
  kind: 'line' | 'oversized'
  text: string
  offset: number
  next: number
  torn?: boolean
  length?: number
}

async function collect(
  file: string,
  gz: boolean,
  start: number,
  max: number,
  stopAfter = Infinity,
): Promise<{ seen: Seen[]; res: ReadResult }> {
  const seen: Seen[] = []
  const h: LineHandler = {
    line(buf, s, e, offset, next, torn) {
      seen.push({ kind: 'line', text: buf.subarray(s, e).toString('latin1'), offset, next, torn })
    },
    oversized(head, offset, next, length) {
      seen.push({ kind: 'oversized', text: head.toString('latin1'), offset, next, length })
    },
  }
  const res = await readLines(file, gz, start, max, h, () => seen.length >= stopAfter)
  return { seen, res }
}

function write(content: Buffer | string, gz = false): string {
  const file = path.join(tmpDir(), gz ? 'seg.log.gz' : 'seg.log')
  const buf = Buffer.from(content)
  fs.writeFileSync(file, gz ? zlib.gzipSync(buf) : buf)
  return file
}

/** Lines of many lengths, several crossing the reader's 1 MiB chunk boundary. */
function variedLines(): string[] {
  const out: string[] = []
  let i = 0
  let total = 0
  while (total < 3.5 * 1024 * 1024) {
    const len = i % 17 === 0 ? 200_000 + i : (i * 7919) % 3000
    const l = `${i}:` + String.fromCharCode(97 + (i % 26)).repeat(len)
    out.push(l)
    total += l.length + 1
    i++
  }
  return out
}

describe('readLines', () => {
  for (const gz of [false, true]) {
    it(`yields every line with exact offsets across chunk boundaries (${gz ? 'gzip' : 'plain'})`, async () => {
      const lines = variedLines()
      const content = lines.join('\n') + '\n'
      const file = write(content, gz)
      const { seen, res } = await collect(file, gz, 0, 16 * 1024 * 1024)
      expect(res.error).toBeUndefined()
      expect(res.stopped).toBe(false)
      expect(seen.map((s) => s.text)).toEqual(lines)
      const buf = Buffer.from(content)
      for (const s of seen) {
        expect(buf.subarray(s.offset, s.next - 1).toString('latin1')).toBe(s.text)
        expect(buf[s.next - 1]).toBe(0x0a)
        expect(s.torn).toBe(false)
      }
      expect(res.end).toBe(buf.length)
    })

    it(`resumes from a line-boundary offset (${gz ? 'gzip' : 'plain'})`, async () => {
      const lines = variedLines()
      const content = lines.join('\n') + '\n'
      const file = write(content, gz)
      const all = (await collect(file, gz, 0, 16 * 1024 * 1024)).seen
      const k = Math.floor(all.length / 2) + 3
      const { seen } = await collect(file, gz, all[k].offset, 16 * 1024 * 1024)
      expect(seen.map((s) => s.offset)).toEqual(all.slice(k).map((s) => s.offset))
      expect(seen.map((s) => s.text)).toEqual(lines.slice(k))
    })

    it(`flags a checkpoint offset that is mid-line or past the end (${gz ? 'gzip' : 'plain'})`, async () => {
      const file = write('aaa\nbbbb\ncc\n', gz)
      const mid = await collect(file, gz, 6, 1024)
      expect(mid.seen).toEqual([])
      expect(mid.res.badStart).toBe('not-boundary')
      const past = await collect(file, gz, 100, 1024)
      expect(past.seen).toEqual([])
      expect(past.res.badStart).toBe('past-end')
      const ok = await collect(file, gz, 4, 1024)
      expect(ok.res.badStart).toBeUndefined()
      expect(ok.seen.map((s) => s.text)).toEqual(['bbbb', 'cc'])
      const atEnd = await collect(file, gz, 12, 1024)
      expect(atEnd.res.badStart).toBeUndefined()
      expect(atEnd.seen).toEqual([])
    })
  }

  it('accepts a checkpoint at the very end of a file whose last line is torn', async () => {
    const file = write('aaa\nbb')
    const r = await collect(file, false, 6, 1024)
    expect(r.res.badStart).toBeUndefined()
    expect(r.seen).toEqual([])
  })

  it('reports bytes after the last newline as a torn line', async () => {
    const file = write('{"a":1}\n{"b":')
    const { seen, res } = await collect(file, false, 0, 1024)
    expect(seen).toEqual([
      { kind: 'line', text: '{"a":1}', offset: 0, next: 8, torn: false },
      { kind: 'line', text: '{"b":', offset: 8, next: 13, torn: true },
    ])
    expect(res.end).toBe(13)
  })

  it('yields empty lines and keeps a CR for the caller to judge', async () => {
    const file = write('a\n\n\r\nb\r\n')
    const { seen } = await collect(file, false, 0, 1024)
    expect(seen.map((s) => s.text)).toEqual(['a', '', '\r', 'b\r'])
  })

  it('a line of exactly maxRecordSize is a line; one byte more is oversized', async () => {
    const file = write('x'.repeat(100) + '\n' + 'y'.repeat(101) + '\nz\n')
    const { seen } = await collect(file, false, 0, 100)
    expect(seen.map((s) => s.kind)).toEqual(['line', 'oversized', 'line'])
    expect(seen[1]).toMatchObject({ offset: 101, next: 203, length: 101 })
    expect(seen[2].text).toBe('z')
  })

  for (const gz of [false, true]) {
    it(`skips an oversized line inside one chunk and one spanning chunks, keeping only its head (${gz ? 'gzip' : 'plain'})`, async () => {
      const small = 'q'.repeat(300_000)
      const huge = 'h'.repeat(3 * 1024 * 1024 + 123)
      const content = `first\n${small}\nmiddle\n${huge}\nlast\n`
      const file = write(content, gz)
      const { seen, res } = await collect(file, gz, 0, 100_000)
      expect(res.error).toBeUndefined()
      expect(seen.map((s) => [s.kind, s.kind === 'line' ? s.text : s.length])).toEqual([
        ['line', 'first'],
        ['oversized', small.length],
        ['line', 'middle'],
        ['oversized', huge.length],
        ['line', 'last'],
      ])
      for (const s of seen.filter((x) => x.kind === 'oversized')) {
        expect(s.text.length).toBe(64 * 1024)
        expect(content.slice(s.offset, s.offset + 10)).toBe(s.text.slice(0, 10))
        expect(content[s.next - 1]).toBe('\n')
      }
    })
  }

  it('reports an oversized torn tail as oversized', async () => {
    const file = write('ok\n' + 'w'.repeat(5000))
    const { seen } = await collect(file, false, 0, 1000)
    expect(seen.map((s) => s.kind)).toEqual(['line', 'oversized'])
    expect(seen[1]).toMatchObject({ offset: 3, next: 5003, length: 5000 })
  })

  it('delivers what precedes a corruption in a .gz and reports the error', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line-${i}-${'p'.repeat(i % 50)}`)
    const gzbuf = zlib.gzipSync(Buffer.from(lines.join('\n') + '\n'), { level: 1 })
    // Cut the stream short: a truncated .gz (e.g. a crash mid-copy by hand).
    const file = path.join(tmpDir(), 'seg.log.gz')
    fs.writeFileSync(file, gzbuf.subarray(0, Math.floor(gzbuf.length * 0.6)))
    const { seen, res } = await collect(file, true, 0, 1024)
    expect(res.error).toBeInstanceOf(Error)
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.length).toBeLessThan(lines.length)
    // Only whole lines are delivered, in order, and `end` is where the next would start.
    expect(seen.map((s) => s.text)).toEqual(lines.slice(0, seen.length))
    expect(res.end).toBe(seen[seen.length - 1].next)
  })

  it('stops at a line boundary when asked to', async () => {
    const file = write(Array.from({ length: 100 }, (_, i) => `l${i}`).join('\n') + '\n')
    const { seen, res } = await collect(file, false, 0, 1024, 10)
    expect(seen.length).toBe(10)
    expect(res.stopped).toBe(true)
    expect(res.end).toBe(seen[9].next)
  })

  it('waits for a returned promise before reading the next line', async () => {
    const file = write('a\nb\nc\n')
    const order: string[] = []
    const h: LineHandler = {
      line: async (buf, s, e) => {
        const t = buf.subarray(s, e).toString()
        order.push(`start ${t}`)
        await new Promise((r) => setTimeout(r, 5))
        order.push(`end ${t}`)
      },
      oversized: () => {},
    }
    await readLines(file, false, 0, 1024, h, () => false)
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
  })

  it('closes its file descriptor (no fd leak across many reads)', async () => {
    const file = write('a\nb\n')
    const before = fs.readdirSync('/proc/self/fd').length
    for (let i = 0; i < 50; i++) await collect(file, false, 0, 1024)
    for (let i = 0; i < 50; i++) await collect(file, false, 0, 1024, 1)
    expect(fs.readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(before + 2)
  })
})
