/**
 * The shipping key: the same line at the same place always gets the same key (re-shipping
 * inserts nothing twice), a different line at that place a different one (a reused segment
 * name loses nothing), and the keys of one file sort by offset (the unique index is appended
 * to, not written at random).
 */
import { describe, expect, it } from 'vitest'
import { entryKey } from '../../src/postgres/rows.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe('entryKey', () => {
  it('is a uuid, the same for the same line at the same place', () => {
    const line = Buffer.from('{"ts":1,"attempt":1,"reason":"x","payload":{}}')
    const k = entryKey('pod-7', '/logs/orders.log', 'orders.000000000001.log', 4096, line)
    expect(k).toMatch(UUID)
    // Interleaved with another file, so the per-file prefix cache is exercised both ways.
    entryKey('pod-8', '/logs/orders.log', 'orders.000000000001.log', 4096, line)
    expect(entryKey('pod-7', '/logs/orders.log', 'orders.000000000001.log', 4096, Buffer.from(line))).toBe(k)
  })

  it('differs when anything about the place or the bytes differs', () => {
    const line = Buffer.from('{"ts":1,"attempt":1,"reason":"x","payload":{}}')
    const base = ['pod-7', '/logs/orders.log', 'orders.000000000001.log', 4096] as const
    const keys = new Set([
      entryKey(...base, line),
      entryKey('pod-8', base[1], base[2], base[3], line),
      entryKey(base[0], '/logs/payments.log', base[2], base[3], line),
      entryKey(base[0], base[1], 'orders.000000000002.log', base[3], line),
      entryKey(base[0], base[1], base[2], 4097, line),
      // A reused segment name: same place, other bytes.
      entryKey(...base, Buffer.from('{"ts":2,"attempt":1,"reason":"x","payload":{}}')),
      // Offsets 2^40 apart share the position bits; the hash still tells them apart.
      entryKey(base[0], base[1], base[2], base[3] + 2 ** 40, line),
    ])
    expect(keys.size).toBe(7)
  })

  it('sorts the lines of one file by offset', () => {
    const keys: string[] = []
    let offset = 0
    for (let i = 0; i < 1000; i++) {
      const line = Buffer.from(`{"ts":${i},"attempt":1,"reason":"r${i % 7}","payload":{"n":${i}}}`)
      keys.push(entryKey('pod-7', '/logs/orders.log', 'orders.000000000001.log', offset, line))
      offset += line.length + 1
    }
    expect([...keys].sort()).toEqual(keys)
  })
})
