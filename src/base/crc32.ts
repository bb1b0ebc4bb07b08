/**
 * CRC-32 (IEEE 802.3, as zlib and gzip compute it). `zlib.crc32` exists only from Node 20.15
 * and 22.2; the package supports every Node 20, so older runtimes get this table-driven one.
 * Only checkpoints (a few hundred bytes each) use it, so speed does not matter.
 */
import zlib from 'node:zlib'

let table: Uint32Array | undefined

function makeTable(): Uint32Array {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
}

/** The fallback, exported so tests can check it against zlib.crc32 where that exists. */
export function crc32Portable(data: string | Uint8Array): number {
  const t = (table ??= makeTable())
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

type Crc32 = (data: string | Uint8Array) => number

const native = (zlib as { crc32?: Crc32 }).crc32

export const crc32: Crc32 = typeof native === 'function' ? native : crc32Portable
