/**
 * zlib.crc32 exists only from Node 20.15; `engines` says >=20, so checkpoints fall back to a
 * table-driven CRC-32 that must agree with zlib's bit for bit (checkpoints written by one
 * runtime are read by another).
 */
import { once } from 'node:events'
import path from 'node:path'
import zlib from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crc32, crc32Portable } from '../src/base/crc32.js'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

describe('crc32Portable', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32Portable('123456789')).toBe(0xcbf43926)
    expect(crc32Portable('')).toBe(0)
  })

  it('matches zlib.crc32 on strings and bytes (fast-check)', () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
    console.log(`crc32 property seed: ${seed} (rerun with FC_SEED=${seed})`)
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.uint8Array({ maxLength: 4096 })), (data) => {
        expect(crc32Portable(data)).toBe(zlib.crc32(data))
      }),
      { seed, numRuns: 1000 },
    )
  })

  it('matches zlib.crc32 on a real checkpoint body', () => {
    const body = JSON.stringify({ v: 1, segment: 'orders.000000000001.log', offset: 1234, items: 5, updatedAt: 1732252800000, outputs: [{ file: 'é.log', size: 9 }] })
    expect(crc32Portable(body)).toBe(zlib.crc32(body))
    expect(crc32(body)).toBe(zlib.crc32(body))
  })
})

describe('without zlib.crc32 (Node < 20.15)', () => {
  it('a replay still writes and reads its checkpoints', async () => {
    const child = forkFixture('no-native-crc32.ts', [path.join(tmpDir(), 'orders.log')])
    let out = ''
    let err = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
    const [{ code }] = await Promise.all([exited(child), once(child.stdout!, 'end'), once(child.stderr!, 'end')])
    expect(err).toBe('')
    expect(code).toBe(0)
    expect(JSON.parse(out)).toEqual({ crc32: 'undefined', first: 2, second: 3, warnings: [], seen: [0, 1, 2, 3, 4] })
  })
})
