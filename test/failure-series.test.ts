/**
 * failureSeries(log): entries counted at their failure hour (UTC), per kind and reason group,
 * and kept per file: a later read reads only the bytes appended since, sealing the active file
 * costs nothing, a file replaced is counted afresh.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { failureSeries } from '../src/index.js'
import { writeCheckpoint } from '../src/store/checkpoint.js'
import { compressSegment } from '../src/store/segments.js'
import { tmpDir } from './helpers/tmp.js'
import { HOUR, buildChartLog, line } from './fixtures/chart-log.js'

const bytesOf = (dir: string) => fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)

describe('failureSeries (local log)', () => {
  it('counts each entry once, in the UTC hour of its ts, stacked by reason group', async () => {
    const dir = tmpDir()
    const now = Date.now()
    const b = buildChartLog(dir, now)
    const r = failureSeries(b.log)
    const s = await r.read({ now })
    expect(s.buckets[23]).toBe(b.hour)
    expect(s.buckets[0]).toBe(b.hour - 23 * HOUR)
    expect(s.totals).toEqual(b.expected24h)
    expect(s.total).toBe(10)
    expect(s.groups.find((g) => g.fingerprint === 'timeout after <n>ms')!.counts).toEqual(b.timeouts24h)
    expect(s.groups.map((g) => [g.fingerprint, g.total])).toEqual([
      ['connect ECONNREFUSED <ip>:<n>', 5],
      ['timeout after <n>ms', 3],
      ['card declined <n>', 1],
      ['invalid JSON: Unexpected token', 1],
    ])
    const perm = await r.read({ now, kind: 'permanent' })
    expect(perm.total).toBe(3)
    expect((await r.read({ now, kind: 'corrupt' })).totals[19]).toBe(1)
    // top: the rest summed as "(other reasons)".
    const top1 = await r.read({ now, top: 1 })
    expect(top1.groups.map((g) => [g.fingerprint, g.total])).toEqual([['connect ECONNREFUSED <ip>:<n>', 5], ['(other reasons)', 5]])
    // 30 days by day: the 25-hour-old and 10-day-old permanent entries show up.
    const month = await r.read({ now, range: '30d' })
    expect(month.bucketMs).toBe(24 * HOUR)
    expect(month.total).toBe(12)
    expect(month.buckets[29]).toBe(Math.floor(now / (24 * HOUR)) * 24 * HOUR)
    await expect(r.read({ now, host: 'a' })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    await expect(r.read({ range: '7d' } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
  })

  it('reads only the bytes appended since the last read; sealing the active file reads nothing', async () => {
    const dir = tmpDir()
    const now = Date.now()
    const b = buildChartLog(dir, now)
    const r = failureSeries(b.log)
    await r.read({ now })
    expect(r.cost.bytesRead).toBe(bytesOf(dir))
    expect(r.cost.filesCounted).toBe(4)

    // Nothing new: nothing read.
    await r.read({ now })
    expect(r.cost.bytesRead).toBe(bytesOf(dir))

    // Two whole lines and a partial one appended to the active file.
    const added = [line(b.hour + 5, 'timeout after 7ms', 100), line(b.hour + 6, 'timeout after 8ms', 101)].join('\n') + '\n'
    const partial = '{"ts":' + String(b.hour + 7)
    fs.appendFileSync(b.log, added + partial)
    const before = r.cost.bytesRead
    const s = await r.read({ now })
    expect(r.cost.bytesRead - before).toBe(Buffer.byteLength(added))
    expect(s.totals[23]).toBe(b.expected24h[23]! + 2)

    // The partial line completed: only it is read.
    const rest = ',"attempt":1,"reason":"timeout after 9ms","id":"x","payload":1}\n'
    fs.appendFileSync(b.log, rest)
    const before2 = r.cost.bytesRead
    expect((await r.read({ now })).totals[23]).toBe(b.expected24h[23]! + 3)
    expect(r.cost.bytesRead - before2).toBe(Buffer.byteLength(partial + rest))

    // Sealed (renamed, as the writer seals): the same file, nothing read again.
    const before3 = r.cost.bytesRead
    fs.renameSync(b.log, path.join(dir, 'orders.000000000002.log'))
    const sealed = await r.read({ now })
    expect(sealed.totals[23]).toBe(b.expected24h[23]! + 3)
    expect(r.cost.bytesRead).toBe(before3)
    expect(r.cost.filesCounted).toBe(4)

    // A segment removed (a replay delivered it): its entries no longer count.
    fs.rmSync(path.join(dir, 'orders.000000000001.log'))
    expect((await r.read({ now })).total).toBe(10 + 3 - 4)
    // The permanent log rewritten (a purge): counted afresh.
    fs.writeFileSync(path.join(dir, 'permanent-orders.log.tmp'), line(b.hour - HOUR, 'timeout after 1ms', 200) + '\n')
    fs.renameSync(path.join(dir, 'permanent-orders.log.tmp'), path.join(dir, 'permanent-orders.log'))
    const after = await r.read({ now, kind: 'permanent' })
    expect(after.total).toBe(1)
    expect(after.totals[22]).toBe(1)
  })
  it('a replay checkpoint uncounts only the lines it passed; compressing a counted segment reads nothing', async () => {
    const dir = tmpDir()
    const now = Date.now()
    const b = buildChartLog(dir, now)
    const seg = path.join(dir, 'orders.000000000001.log')
    const lines = fs.readFileSync(seg, 'utf8').split('\n')
    const r = failureSeries(b.log)
    await r.read({ now })
    const before = r.cost.bytesRead
    // The first two lines (the two timeouts 3 h ago) accounted for by a replay.
    const offset = Buffer.byteLength(lines[0]! + '\n' + lines[1]! + '\n')
    await writeCheckpoint(`${seg}.state`, { segment: path.basename(seg), offset, items: 2, updatedAt: now }, 0o600)
    const s = await r.read({ now })
    expect(s.totals[20]).toBe(0)
    expect(s.total).toBe(8)
    expect(r.cost.bytesRead - before).toBe(offset)
    expect(r.cost.filesCounted).toBe(4)

    // Compressed (X → X.gz, the same lines): kept, nothing read.
    await compressSegment(seg, 0o600)
    expect(fs.existsSync(`${seg}.gz`)).toBe(true)
    const before2 = r.cost.bytesRead
    expect((await r.read({ now })).totals).toEqual((await failureSeries(b.log).read({ now })).totals)
    expect(r.cost.bytesRead).toBe(before2)
    expect(r.cost.filesCounted).toBe(4)
  })
})
