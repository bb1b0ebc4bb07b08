/**
 * The `<segment>.meta` sidecars logCounts relies on are caches: stale, corrupt, planted or
 * unwritable ones cost a rescan, never a wrong count or a failure.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { forgetTails } from '../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts } from '../src/store/counts/log-counts.js'
import { decodeSegmentMeta } from '../src/store/counts/segment-meta.js'
import { listSegments, logPaths, metaPathOf } from '../src/store/segments.js'
import { envLine, fullScanCounts, writeSegment } from './fixtures/counts-util.js'
import { forkFixture, exited } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

afterEach(() => {
  forgetLogCounts()
  forgetTails()
})

const T = Date.now() - 3_600_000
const lines = (n: number, from = 0) => Array.from({ length: n }, (_, i) => envLine({ ts: T + from + i, payload: { i: from + i } }))

/** As a new process would: nothing remembered in memory. */
async function coldCounts(log: string) {
  forgetLogCounts()
  forgetTails()
  return logCounts(log)
}

async function expectFullScan(log: string): Promise<void> {
  const now = Date.now()
  const got = await logCounts(log, { now })
  const want = await fullScanCounts(log, now)
  expect({ pending: got.pending, due: got.due, deferred: got.deferred, permanent: got.permanent, corrupt: got.corrupt, oldestPendingTs: got.oldestPendingTs }).toEqual(want)
}

describe('sidecars', () => {
  it('a stale sidecar (segment replaced under the same name) is detected and recomputed', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const file = writeSegment(log, 1, lines(100))
    expect((await coldCounts(log)).pending).toBe(100)
    const meta = metaPathOf(file)
    const old = fs.readFileSync(meta, 'utf8')
    // Same name, other content (the old sidecar stays behind): e.g. a restore from backup.
    fs.unlinkSync(file)
    writeSegment(log, 1, lines(70, 500))
    for (const c of [await coldCounts(log), await logCounts(log)]) expect([c.pending, c.oldestPendingTs]).toEqual([70, T + 500])
    expect(fs.readFileSync(meta, 'utf8')).not.toBe(old)
    expect(decodeSegmentMeta(fs.readFileSync(meta, 'utf8'))?.items).toBe(70)
    // Same size, same inode, only the mtime differs: still stale.
    const st = fs.statSync(file)
    fs.writeFileSync(file, fs.readFileSync(file).toString().replace(`"ts":${T + 500}`, `"ts":${T + 400}`))
    fs.utimesSync(file, st.atime, new Date(st.mtimeMs + 1000))
    expect((await coldCounts(log)).oldestPendingTs).toBe(T + 400)
    await expectFullScan(log)
  })

  it('the same segment changing in place under a warm cache is noticed too', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const file = writeSegment(log, 1, lines(10))
    expect((await logCounts(log)).pending).toBe(10)
    fs.appendFileSync(file, lines(5, 10).map((l) => l + '\n').join(''))
    expect((await logCounts(log)).pending).toBe(15)
  })

  it('a corrupt sidecar is ignored, not fatal, and replaced', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const file = writeSegment(log, 1, lines(100))
    const meta = metaPathOf(file)
    for (const junk of ['', '{', 'null', JSON.stringify({ v: 1, items: 5 }), '\u0000'.repeat(100)]) {
      fs.writeFileSync(meta, junk)
      const c = await coldCounts(log)
      expect(c.pending).toBe(100)
      expect(c.scannedBytes).toBe(fs.statSync(file).size)
      expect(decodeSegmentMeta(fs.readFileSync(meta, 'utf8'))?.items).toBe(100)
    }
  })

  it('a sidecar that lies about its counts but not its identity is trusted only if consistent', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const file = writeSegment(log, 1, lines(100))
    await coldCounts(log)
    const meta = JSON.parse(fs.readFileSync(metaPathOf(file), 'utf8'))
    // A histogram that does not add up to the item count: rejected.
    meta.items = 99
    fs.writeFileSync(metaPathOf(file), JSON.stringify(meta))
    expect((await coldCounts(log)).pending).toBe(100)
  })

  it('an unwritable sidecar (a directory in its place) only costs speed; a symlink is never followed', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const f1 = writeSegment(log, 1, lines(30))
    const f2 = writeSegment(log, 2, lines(20, 30))
    fs.mkdirSync(metaPathOf(f1))
    const target = path.join(tmpDir(), 'elsewhere.json')
    fs.writeFileSync(target, 'untouched')
    fs.symlinkSync(target, metaPathOf(f2))
    for (let i = 0; i < 2; i++) expect((await coldCounts(log)).pending).toBe(50)
    expect(fs.statSync(metaPathOf(f1)).isDirectory()).toBe(true)
    expect(fs.readFileSync(target, 'utf8')).toBe('untouched')
    // The symlink itself was replaced by a real sidecar (rename over it never follows it).
    expect(fs.lstatSync(metaPathOf(f2)).isFile()).toBe(true)
    await expectFullScan(log)
  })

  it('sidecars whose segment was deleted by someone else are swept; other files are left alone', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const f1 = writeSegment(log, 1, lines(10))
    const f2 = writeSegment(log, 2, lines(10, 10), { gz: true })
    writeSegment(log, 3, lines(10, 20), { family: 'permanent' })
    await coldCounts(log)
    const metas = fs.readdirSync(dir).filter((n) => n.endsWith('.meta')).sort()
    expect(metas).toEqual(['orders.000000000001.log.meta', 'orders.000000000002.log.meta', 'permanent-orders.000000000003.log.meta'])
    const foreign = ['notes.meta', 'other.000000000001.log.meta', 'orders.log.meta']
    for (const n of foreign) fs.writeFileSync(path.join(dir, n), 'x')
    // Deleted by hand, sidecar left behind.
    fs.unlinkSync(f1)
    fs.unlinkSync(f2)
    fs.unlinkSync(path.join(dir, 'permanent-orders.000000000003.log'))
    expect(await coldCounts(log)).toMatchObject({ pending: 0, permanent: 0, segments: 0 })
    expect(fs.readdirSync(dir).sort()).toEqual(foreign.sort())
  })

  it('leaves no sidecar behind for a segment that vanished while it was being counted', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, lines(10))
    await coldCounts(log)
    const [seg] = await listSegments(logPaths(log).retry)
    fs.unlinkSync(seg.path)
    fs.unlinkSync(metaPathOf(seg.key))
    expect((await coldCounts(log)).pending).toBe(0)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('the active files\' shared counts are verified: a replaced file or a tampered record means a recount', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    fs.writeFileSync(log, lines(40).map((l) => l + '\n').join(''))
    expect((await coldCounts(log)).pending).toBe(40)
    const sidecar = path.join(dir, '.orders.log.counts')
    expect(fs.existsSync(sidecar)).toBe(true)
    // Another file under the same name, longer than the one counted.
    fs.unlinkSync(log)
    fs.writeFileSync(log, lines(60, 100).map((l) => l + '\n').join(''))
    const c = await coldCounts(log)
    expect([c.pending, c.oldestPendingTs]).toEqual([60, T + 100])
    // A record claiming other counts for the real file is trusted only through its checks.
    const doc = JSON.parse(fs.readFileSync(sidecar, 'utf8'))
    doc.files['orders.log'].tail = Buffer.from('x'.repeat(64)).toString('base64')
    doc.files['orders.log'].meta.items = 1
    fs.writeFileSync(sidecar, JSON.stringify(doc))
    expect((await coldCounts(log)).pending).toBe(60)
    for (const junk of ['', '{"v":1,"files":{"orders.log":{"kind":"lines"}}}', '[1]', 'x'.repeat(1000)]) {
      fs.writeFileSync(sidecar, junk)
      expect((await coldCounts(log)).pending).toBe(60)
    }
    await expectFullScan(log)
  })

  it('are shared across processes: a second process reads no segment data', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, lines(3000))
    writeSegment(log, 2, lines(3000, 3000), { gz: true })
    const run = async () => {
      const child = forkFixture('counts-child.ts', [log])
      const msg = new Promise<{ pending: number; scannedBytes: number }>((resolve) => child.once('message', (m) => resolve(m as never)))
      const [m] = await Promise.all([msg, exited(child)])
      return m
    }
    const first = await run()
    const second = await run()
    expect(first).toMatchObject({ pending: 6000 })
    expect(first.scannedBytes).toBeGreaterThan(0)
    expect(second).toMatchObject({ pending: 6000, scannedBytes: 0 })
  })
})
