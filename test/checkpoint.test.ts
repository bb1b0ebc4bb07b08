import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { CheckpointWriter, decodeCheckpoint, encodeCheckpoint, readCheckpoint, writeCheckpoint } from '../src/store/checkpoint.js'
import { tmpDir } from './helpers/tmp.js'

const SEG = 'orders.000000000001.log'
const cp = { segment: SEG, offset: 4096, items: 17, updatedAt: 1_700_000_000_000 }

describe('checkpoint state files', () => {
  it('round-trips through encode/decode and through the file', async () => {
    expect(decodeCheckpoint(encodeCheckpoint(cp), SEG)).toEqual({ status: 'ok', checkpoint: cp })
    const file = path.join(tmpDir(), `${SEG}.state`)
    await writeCheckpoint(file, cp, 0o600)
    expect(await readCheckpoint(file, SEG)).toEqual({ status: 'ok', checkpoint: cp })
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
  })

  it('reports none when there is no state file', async () => {
    expect(await readCheckpoint(path.join(tmpDir(), 'nope.state'), SEG)).toEqual({ status: 'none' })
  })

  it('replaces atomically and leaves no temp file behind', async () => {
    const dir = tmpDir()
    const file = path.join(dir, `${SEG}.state`)
    for (let i = 0; i < 20; i++) await writeCheckpoint(file, { ...cp, offset: i * 10, items: i }, 0o600)
    expect(fs.readdirSync(dir)).toEqual([`${SEG}.state`])
    const r = await readCheckpoint(file, SEG)
    expect(r.status === 'ok' && r.checkpoint.offset).toBe(190)
  })

  it.each([
    ['empty file', () => ''],
    ['garbage', () => 'not json at all'],
    ['torn write (first half)', (t: string) => t.slice(0, Math.floor(t.length / 2))],
    ['a flipped digit in the body (CRC mismatch)', (t: string) => t.replace('4096', '4097')],
    ['a wrong CRC', (t: string) => t.replace(/"crc":\d+/, '"crc":1')],
    ['missing crc', (t: string) => JSON.stringify({ body: (JSON.parse(t) as { body: string }).body })],
    ['a body that is not a string', () => JSON.stringify({ body: { offset: 1 }, crc: 0 })],
  ])('flags %s as corrupt', async (_name, mutate) => {
    const file = path.join(tmpDir(), `${SEG}.state`)
    fs.writeFileSync(file, mutate(encodeCheckpoint(cp)))
    const r = await readCheckpoint(file, SEG)
    expect(r.status).toBe('corrupt')
  })

  it('rejects a valid file that belongs to another segment (e.g. copied by hand)', async () => {
    const file = path.join(tmpDir(), `${SEG}.state`)
    fs.writeFileSync(file, encodeCheckpoint({ ...cp, segment: 'orders.000000000002.log' }))
    const r = await readCheckpoint(file, SEG)
    expect(r).toMatchObject({ status: 'corrupt' })
    expect(r.status === 'corrupt' && r.reason).toMatch(/000000000002/)
  })

  it.each([
    ['a negative offset', -1],
    ['a fractional offset', 1.5],
    ['an unsafe offset', 2 ** 60],
  ])('rejects %s even with a matching CRC', (_name, offset) => {
    const body = JSON.stringify({ v: 1, segment: SEG, offset, items: 0, updatedAt: 0 })
    // A correct CRC, so only the offset is wrong.
    const text = JSON.stringify({ body, crc: zlib.crc32(body) })
    expect(decodeCheckpoint(text, SEG)).toEqual({ status: 'corrupt', reason: 'bad offset' })
  })

  it('rejects an unknown version', () => {
    const body = JSON.stringify({ v: 2, segment: SEG, offset: 0, items: 0, updatedAt: 0 })
    const text = JSON.stringify({ body, crc: zlib.crc32(body) })
    expect(decodeCheckpoint(text, SEG).status).toBe('corrupt')
  })

  it('treats an unreadable state path (a directory) as corrupt, not as a crash', async () => {
    const file = path.join(tmpDir(), `${SEG}.state`)
    fs.mkdirSync(file)
    expect((await readCheckpoint(file, SEG)).status).toBe('corrupt')
  })

  describe('in-place slot writes', () => {
    it('create the file once; later checkpoints overwrite a slot in place, the newest wins', async () => {
      const dir = tmpDir()
      const file = path.join(dir, `${SEG}.state`)
      const w = await CheckpointWriter.open(file, { ...cp, offset: 0, items: 0 }, 0o600)
      const ino = fs.statSync(file).ino
      for (let i = 1; i <= 25; i++) await w.write({ ...cp, offset: i * 10, items: i })
      w.close()
      expect(fs.readdirSync(dir)).toEqual([`${SEG}.state`])
      expect(fs.statSync(file).ino).toBe(ino)
      expect(await readCheckpoint(file, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: 250, items: 25 } })
    })

    it('a torn or damaged slot leaves the previous checkpoint in force', async () => {
      const file = path.join(tmpDir(), `${SEG}.state`)
      const w = await CheckpointWriter.open(file, { ...cp, offset: 10, items: 1 }, 0o600)
      await w.write({ ...cp, offset: 20, items: 2 })
      w.close()
      const buf = fs.readFileSync(file)
      const slot = buf.length / 2
      // The newest (offset 20) is in the slot whose body mentions it; damage one byte of it.
      const at = buf.indexOf('"offset":20') >= slot ? slot : 0
      const damaged = Buffer.from(buf)
      damaged[at + 20] ^= 0xff
      fs.writeFileSync(file, damaged)
      expect(await readCheckpoint(file, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: 10, items: 1 } })
      // Cut short in the middle of that slot (a torn write that zero-filled its tail).
      const torn = Buffer.from(buf)
      torn.fill(0, at + 16, at + slot)
      fs.writeFileSync(file, torn)
      expect(await readCheckpoint(file, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: 10, items: 1 } })
    })

    it('continue an existing slot file, and replace a file in the older text format', async () => {
      const file = path.join(tmpDir(), `${SEG}.state`)
      const a = await CheckpointWriter.open(file, { ...cp, offset: 10, items: 1 }, 0o600)
      a.close()
      const b = await CheckpointWriter.open(file, { ...cp, offset: 30, items: 3 }, 0o600)
      b.close()
      expect(await readCheckpoint(file, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: 30 } })
      fs.writeFileSync(file, encodeCheckpoint({ ...cp, offset: 40, items: 4 }))
      expect(await readCheckpoint(file, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: 40 } })
      const c = await CheckpointWriter.open(file, { ...cp, offset: 40, items: 4 }, 0o600)
      await c.write({ ...cp, offset: 50, items: 5 })
      c.close()
      expect(await readCheckpoint(file, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: 50, items: 5 } })
      expect(fs.readFileSync(file)[0]).not.toBe(0x7b)
    })

    it('a checkpoint naming many output files outgrows the slots: the file is rewritten with larger ones', async () => {
      const file = path.join(tmpDir(), `${SEG}.state`)
      const w = await CheckpointWriter.open(file, { ...cp, offset: 0, items: 0 }, 0o600)
      const outputs = Array.from({ length: 200 }, (_, i) => ({ file: `orders.r${String(i).padStart(12, '0')}.log`, size: i }))
      await w.write({ ...cp, offset: 60, items: 6, outputs })
      await w.write({ ...cp, offset: 70, items: 7, outputs })
      w.close()
      expect(await readCheckpoint(file, SEG)).toMatchObject({ status: 'ok', checkpoint: { offset: 70, outputs } })
    })
  })
})
