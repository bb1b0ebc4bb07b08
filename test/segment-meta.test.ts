import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { listSegments, logPaths, metaPathOf, type SegmentInfo } from '../src/store/segments.js'
import {
  SegmentMetaBuilder,
  decodeSegmentMeta,
  readSegmentMeta,
  scanSegmentMeta,
  writeSegmentMeta,
  type SegmentMeta,
} from '../src/store/counts/segment-meta.js'
import { envLine, writeSegment } from './fixtures/counts-util.js'
import { tmpDir } from './helpers/tmp.js'

const T0 = 1_700_000_000_000

async function onlySegment(log: string): Promise<SegmentInfo> {
  const segs = await listSegments(logPaths(log).retry)
  expect(segs).toHaveLength(1)
  return segs[0]
}

function mixedLines(n: number): string[] {
  const lines: string[] = []
  for (let i = 0; i < n; i++) {
    // firstTs before ts on re-logged items: minTs is the first-failure time.
    const relogged = i % 3 === 0
    lines.push(envLine({ ts: T0 + i, firstTs: relogged ? T0 - 1000 + i : undefined, dueTs: i % 2 === 0 ? T0 + 10 * i : undefined, payload: { i } }))
  }
  return lines
}

describe('scanSegmentMeta', () => {
  it('counts items and corrupt lines as replay would, with time ranges and a due histogram', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const lines = mixedLines(3000)
    const bad = ['', 'garbage', '{"ts":1}', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]).toString('latin1'), 'x'.repeat(300)]
    const all = [...lines.slice(0, 1500), ...bad, ...lines.slice(1500)]
    const body = Buffer.concat(all.map((l) => Buffer.from(l + '\n', l.startsWith('{\u00c3') ? 'latin1' : 'utf8')))
    writeSegment(log, 1, body)
    const seg = await onlySegment(log)
    const meta = await scanSegmentMeta(seg, 200)

    expect(meta.items).toBe(3000)
    expect(meta.corrupt).toBe(5)
    expect(meta.bytes).toBe(body.length)
    expect(meta.minTs).toBe(T0 - 1000)
    // Items without dueTs are due whatever the clock: at 0.
    expect(meta.minDue).toBe(0)
    expect(meta.maxDue).toBe(T0 + 10 * 2998)
    expect(meta.dueHist.length).toBeLessThanOrEqual(64)
    expect(meta.dueHist.reduce((n, [, c]) => n + c, 0)).toBe(3000)

    expect(meta.damaged).toBeUndefined()
    const st = fs.lstatSync(seg.path)
    expect(meta.file).toEqual({ size: st.size, ino: st.ino, mtimeMs: st.mtimeMs })
  })

  it('reads a .gz segment to the same counts (uncompressed offsets)', async () => {
    const dir = tmpDir()
    const a = path.join(dir, 'a.log')
    const b = path.join(dir, 'b.log')
    const lines = mixedLines(2100)
    writeSegment(a, 1, lines)
    writeSegment(b, 1, lines, { gz: true })
    const ma = await scanSegmentMeta(await onlySegment(a), 1 << 20)
    const mb = await scanSegmentMeta(await onlySegment(b), 1 << 20)
    expect({ ...mb, file: null }).toEqual({ ...ma, file: null })
  })

  it('counts a torn last line of a sealed segment the way replay does (an item if it parses)', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, Buffer.from(envLine({ ts: T0 }) + '\n' + envLine({ ts: T0 + 1 })))
    writeSegment(log, 2, Buffer.from(envLine({ ts: T0 }) + '\n' + envLine({ ts: T0 + 1 }).slice(0, 10)))
    const [s1, s2] = await listSegments(logPaths(log).retry)
    expect((await scanSegmentMeta(s1, 1 << 20)).items).toBe(2)
    const m2 = await scanSegmentMeta(s2, 1 << 20)
    expect([m2.items, m2.corrupt]).toEqual([1, 1])
  })

  it('marks a truncated .gz as damaged: the readable items, plus one corrupt record for the rest', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const lines = mixedLines(20_000)
    const gz = zlib.gzipSync(Buffer.from(lines.map((l) => l + '\n').join('')))
    writeSegment(log, 1, gz.subarray(0, Math.floor(gz.length / 2)))
    fs.renameSync(path.join(dir, 'orders.000000000001.log'), path.join(dir, 'orders.000000000001.log.gz'))
    const meta = await scanSegmentMeta(await onlySegment(log), 1 << 20)
    expect(meta.damaged).toBe(true)
    expect(meta.items).toBeGreaterThan(0)
    expect(meta.items).toBeLessThan(20_000)
    expect(meta.corrupt).toBe(1)
  })

  it('fails with DLQ_IO and the native code when the segment is gone', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, ['x'])
    const seg = await onlySegment(log)
    fs.unlinkSync(seg.path)
    await expect(scanSegmentMeta(seg, 1024)).rejects.toMatchObject({ code: 'DLQ_IO', systemCode: 'ENOENT' })
  })
})

describe('sidecar', () => {
  async function setup(): Promise<{ log: string; seg: SegmentInfo; meta: SegmentMeta }> {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, mixedLines(50))
    const seg = await onlySegment(log)
    const meta = await scanSegmentMeta(seg, 1 << 20)
    await writeSegmentMeta(seg.key, meta, 0o600)
    return { log, seg, meta }
  }

  it('round-trips next to the segment as <key>.meta, with the given mode', async () => {
    const { seg, meta } = await setup()
    expect(metaPathOf(seg.key)).toBe(seg.key + '.meta')
    expect(fs.statSync(metaPathOf(seg.key)).mode & 0o777).toBe(0o600)
    expect(await readSegmentMeta(seg)).toEqual(meta)
    // No temp file left behind.
    expect(fs.readdirSync(path.dirname(seg.path)).sort()).toEqual(['orders.000000000001.log', 'orders.000000000001.log.meta'])
  })

  it('is stale when the segment was replaced under the same name', async () => {
    const { log, seg } = await setup()
    fs.unlinkSync(seg.path)
    writeSegment(log, 1, mixedLines(51))
    expect(await readSegmentMeta(await onlySegment(log))).toBeUndefined()
  })

  it('is stale when the segment changed in place (same size, other mtime)', async () => {
    const { seg } = await setup()
    const t = new Date(Date.now() + 5000)
    fs.utimesSync(seg.path, t, t)
    expect(await readSegmentMeta(seg)).toBeUndefined()
  })

  it('is stale for the .gz of a segment it described uncompressed', async () => {
    const { log, seg } = await setup()
    fs.writeFileSync(seg.path + '.gz', zlib.gzipSync(fs.readFileSync(seg.path)))
    fs.unlinkSync(seg.path)
    const gz = await onlySegment(log)
    expect(gz.key).toBe(seg.key)
    expect(await readSegmentMeta(gz)).toBeUndefined()
  })

  it('is ignored, never fatal, when corrupt, foreign, oversized or a symlink', async () => {
    const { seg, meta } = await setup()
    const file = metaPathOf(seg.key)
    const bad: unknown[] = [
      'not json',
      '',
      'null',
      '[]',
      { ...meta, v: 1 },
      { ...meta, v: 3 },
      { ...meta, items: meta.items + 1 },
      { ...meta, items: -1 },
      { ...meta, minTs: 'x' },
      { ...meta, dueHist: [...meta.dueHist].reverse() },
      { ...meta, dueHist: [[1, 0]] },
      { ...meta, file: { size: meta.file.size } },
      { ...meta, damaged: 'yes' },
      { ...meta, dueHistLow: [1] },
      { ...meta, dueHistLow: undefined },
      { ...meta, dueHistLow: meta.dueHist.map(([u]) => u + 1) },
    ]
    for (const b of bad) {
      fs.writeFileSync(file, typeof b === 'string' ? b : JSON.stringify(b))
      expect(await readSegmentMeta(seg), JSON.stringify(b).slice(0, 80)).toBeUndefined()
    }
    fs.writeFileSync(file, JSON.stringify(meta).slice(0, 40))
    expect(await readSegmentMeta(seg)).toBeUndefined()
    fs.unlinkSync(file)
    const elsewhere = path.join(tmpDir(), 'x.meta')
    fs.writeFileSync(elsewhere, JSON.stringify(meta))
    fs.symlinkSync(elsewhere, file)
    expect(await readSegmentMeta(seg)).toBeUndefined()
  })

  it('is undefined when missing', async () => {
    const { seg } = await setup()
    fs.unlinkSync(metaPathOf(seg.key))
    expect(await readSegmentMeta(seg)).toBeUndefined()
  })
})

describe('SegmentMetaBuilder', () => {
  it('is what a writer of a segment uses: the same meta as a scan of what it wrote', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lines = mixedLines(2500)
    const b = new SegmentMetaBuilder()
    let off = 0
    for (const l of lines) {
      const len = Buffer.byteLength(l) + 1
      b.addEnvelope(off, len, JSON.parse(l))
      off += len
    }
    writeSegment(log, 1, lines)
    const seg = await onlySegment(log)
    const st = fs.lstatSync(seg.path)
    const built = b.finish({ size: st.size, ino: st.ino, mtimeMs: st.mtimeMs })
    expect(built).toEqual(await scanSegmentMeta(seg, 1 << 20))
    expect(decodeSegmentMeta(JSON.stringify(built))).toEqual(built)
  })

  it('continues from a snapshot to the same counts and ranges', () => {
    const lines = mixedLines(3000)
    const whole = new SegmentMetaBuilder()
    let part = new SegmentMetaBuilder()
    let off = 0
    lines.forEach((l, i) => {
      const len = Buffer.byteLength(l) + 1
      whole.addEnvelope(off, len, JSON.parse(l))
      if (i === 1700) part = new SegmentMetaBuilder(part.finish({ size: 0, ino: 0, mtimeMs: 0 }))
      part.addEnvelope(off, len, JSON.parse(l))
      off += len
    })
    const id = { size: off, ino: 1, mtimeMs: 2 }
    const a = whole.finish(id)
    const b = part.finish(id)
    expect({ ...b, dueHist: null, dueHistLow: null }).toEqual({ ...a, dueHist: null, dueHistLow: null })
    expect(b.dueHist.reduce((n, [, c]) => n + c, 0)).toBe(3000)
  })

  it('an item without dueTs is due at 0 (whatever the clock), one without any time too', () => {
    const b = new SegmentMetaBuilder()
    b.add(0, 10, undefined, undefined)
    b.add(10, 10, 5000, undefined)
    b.add(20, 10, 5000, 9000)
    const m = b.finish({ size: 30, ino: 1, mtimeMs: 1 })
    expect(m).toMatchObject({ items: 3, minTs: 5000, minDue: 0, maxDue: 9000, dueHist: [[0, 2], [9000, 1]] })
    expect(decodeSegmentMeta(JSON.stringify(m))).toEqual(m)
  })

  it('counts corrupt lines in the bytes covered; an empty meta round-trips', () => {
    const b = new SegmentMetaBuilder()
    for (let i = 0; i < 1025; i++) b.addCorrupt(i * 2, 2)
    const m = b.finish({ size: 2050, ino: 1, mtimeMs: 1 })
    expect(m.corrupt).toBe(1025)
    expect(m.bytes).toBe(2050)
    const empty = new SegmentMetaBuilder().finish({ size: 0, ino: 1, mtimeMs: 1 })
    expect(empty).toEqual({ v: 2, items: 0, corrupt: 0, bytes: 0, minTs: null, minDue: null, maxDue: null, dueHist: [], dueHistLow: [], file: { size: 0, ino: 1, mtimeMs: 1 } })
    expect(decodeSegmentMeta(JSON.stringify(empty))).toEqual(empty)
  })
})
