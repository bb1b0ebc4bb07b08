/**
 * Cost follows work: a newest-first page reads the end of the log, not all of it. Shown by
 * what a read would reveal — an unparseable line or an unreadable .gz segment further back is
 * never counted, because it is never read — and, on Linux, by the bytes the process read.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { envLine } from './fixtures/cli-util.js'
import { listing, writeActive, writeSegment } from './fixtures/mixed-log.js'
import { tmpDir } from './helpers/tmp.js'

const T = 1_760_000_000_000
const rec = (i: number) => envLine({ ts: T + i, attempt: 1, reason: 'timeout', id: `p${i}`, final: 'exhausted', payload: { i } })
const recs = (from: number, n: number) => Array.from({ length: n }, (_, k) => rec(from + k))

/** Bytes this process has read through system calls (Linux). */
function rchar(): number {
  return Number(/^rchar:\s*(\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))![1])
}

describe("inspect({ order: 'newest' }) cost", () => {
  it('never reads the files behind the page: their bad lines and unreadable .gz go unseen', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    fs.writeFileSync(path.join(path.dirname(log), 'permanent-orders.000000000001.log.gz'), Buffer.from('not gzip at all'))
    fs.utimesSync(path.join(path.dirname(log), 'permanent-orders.000000000001.log.gz'), (T - 3000) / 1000, (T - 3000) / 1000)
    writeSegment(log, { family: 'permanent', seq: 2, mtimeMs: T - 2000, lines: ['older garbage', ...recs(0, 100)] })
    writeSegment(log, { family: 'permanent', seq: 3, mtimeMs: T - 1000, lines: recs(100, 100) })
    writeActive(log, 'permanent', recs(200, 10))

    const page = await listing(log, { kind: 'permanent', order: 'newest', limit: 5, skip: 10 })
    expect(page.entries.map((e) => e.id)).toEqual(['p199', 'p198', 'p197', 'p196', 'p195'])
    expect(page.summary).toEqual({ entries: 5, skipped: 10, stopped: 'limit', unparseable: 0, readErrors: [] })

    // A page that reaches into the old segment reads it from its end: still not its first line.
    const deeper = await listing(log, { kind: 'permanent', order: 'newest', limit: 50, skip: 150 })
    expect(deeper.entries.at(-1)!.id).toBe('p10')
    expect(deeper.summary).toMatchObject({ entries: 50, stopped: 'limit', unparseable: 0, readErrors: [] })

    // What a whole read shows (oldest first, or a newest-first page that runs out of entries).
    const whole = await listing(log, { kind: 'permanent', order: 'oldest' })
    expect(whole.summary).toMatchObject({ entries: 210, unparseable: 1, readErrors: [{ file: expect.stringContaining('000000000001.log.gz') }] })
    const last = await listing(log, { kind: 'permanent', order: 'newest', limit: 50, skip: 200 })
    expect(last.summary).toMatchObject({ entries: 10, stopped: null, unparseable: 1, readErrors: whole.summary.readErrors })
  })

  it.skipIf(!fs.existsSync('/proc/self/io'))('reads the end of a large segment, not the segment', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lines = recs(0, 200_000) // ~20 MiB
    writeSegment(log, { family: 'permanent', seq: 1, mtimeMs: T - 1000, lines })
    const size = fs.statSync(path.join(path.dirname(log), 'permanent-orders.000000000001.log')).size
    expect(size).toBeGreaterThan(16 * 1024 * 1024)

    const before = rchar()
    const page = await listing(log, { kind: 'permanent', order: 'newest', limit: 50 })
    const read = rchar() - before
    expect(page.entries.map((e) => e.id)).toEqual(Array.from({ length: 50 }, (_, k) => `p${199_999 - k}`))
    // One chunk from the end (and whatever else the process read meanwhile): far below the segment.
    expect(read).toBeLessThan(2 * 1024 * 1024)
  })
})
