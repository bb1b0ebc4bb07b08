/**
 * Replay reading: what gets delivered, in which order, from which files (plain and .gz),
 * and records at and beyond the size limit.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger, replay, type ReplayEnvelope } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { corruptRecords, envLine, lineOffsets, retryRecords, stateFiles, until, writeSegment } from './fixtures/replay-util.js'

const open: Logger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => {})
})

async function openLog(dir: string, opts: Parameters<typeof Logger.open>[1] = {}): Promise<Logger> {
  const l = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, ...opts })
  open.push(l)
  return l
}

describe('replay delivers', () => {
  it('every logged item once with its envelope, then removes the drained segment', async () => {
    const dir = tmpDir()
    const dlq = await openLog(dir)
    for (let i = 0; i < 50; i++) await dlq.log({ n: i, s: 'é€😀' }, i % 2 ? new TypeError(`bad ${i}`) : `reason ${i}`, 1 + (i % 3), { id: `id-${i}` })
    const seen: Array<{ payload: { n: number }; env: ReplayEnvelope }> = []
    const summary = await dlq.replay((payload, env) => {
      seen.push({ payload: payload as { n: number }, env: { ...env } })
    })
    expect(seen.map((s) => s.payload.n)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    for (const { payload, env } of seen) {
      const i = payload.n
      expect(payload).toEqual({ n: i, s: 'é€😀' })
      expect(env).toMatchObject({ attempt: 1 + (i % 3), reason: i % 2 ? `bad ${i}` : `reason ${i}`, id: `id-${i}` })
      if (i % 2) expect(env.errorName).toBe('TypeError')
      expect(env.segment).toMatch(/^orders\.\d{12}\.log$/)
      expect(typeof env.offset).toBe('number')
    }
    // Offsets are the byte positions of the lines in the sealed segment.
    expect(seen[0].env.offset).toBe(0)
    expect(seen[1].env.offset).toBeGreaterThan(0)
    expect(summary).toMatchObject({ handled: 50, due: 50, delivered: 50, requeued: 0, permanent: 0, corrupt: 0, segments: 1, segmentsRemoved: 1 })
    expect(summary.bytes).toBeGreaterThan(0)
    expect(retryRecords(path.join(dir, 'orders.log'))).toEqual([])
    expect(stateFiles(dir)).toEqual([])
    expect(fs.readdirSync(dir).filter((n) => /^orders\.\d+/.test(n))).toEqual([])
  })

  it('an empty log: nothing handled, no files created', async () => {
    const dir = tmpDir()
    const s = await replay(path.join(dir, 'orders.log'), () => {
      throw new Error('never')
    })
    expect(s).toMatchObject({ handled: 0, segments: 0, delivered: 0 })
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('rejects a bad handler or option up front, taking no lock and creating no file', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, [envLine({ payload: 1 })])
    await expect(replay(log, 'nope' as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
    await expect(replay(log, () => {}, { maxAttempt: 3 } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    await expect(replay(log, () => {}, { concurrency: 0 })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    await expect(replay('', () => {})).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
    expect(fs.readdirSync(dir)).toEqual(['orders.000000000001.log'])
  })

  it('walks sealed segments oldest first by mtime, ties broken by sequence', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    // seq 3 is the oldest by mtime; 1 and 2 tie (so sequence decides); 4 is the newest.
    writeSegment(log, 4, [envLine({ payload: 'd' })], { mtime: 3000 })
    writeSegment(log, 2, [envLine({ payload: 'c' })], { mtime: 2000 })
    writeSegment(log, 1, [envLine({ payload: 'b' })], { mtime: 2000 })
    writeSegment(log, 3, [envLine({ payload: 'a' })], { mtime: 1000 })
    // A replayer-owned segment with the same mtime as the writer's goes after them.
    writeSegment(log, 1, [envLine({ payload: 'c2' })], { mtime: 2000, owner: 'replayer' })
    const order: string[] = []
    const s = await replay(log, (p) => {
      order.push(p as string)
    })
    expect(order).toEqual(['a', 'b', 'c', 'c2', 'd'])
    expect(s.segments).toBe(5)
    expect(s.segmentsRemoved).toBe(5)
  })

  it('never reads files that only look like segments', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const foreign = ['orders.1.log', 'orders.0000000000001.log', 'orders.000000000001.log.bak', 'xorders.000000000001.log', 'orders.000000000001.txt']
    for (const f of foreign) fs.writeFileSync(path.join(dir, f), envLine({ payload: f }) + '\n')
    fs.mkdirSync(path.join(dir, 'orders.000000000009.log'))
    fs.symlinkSync(path.join(dir, 'orders.1.log'), path.join(dir, 'orders.000000000008.log'))
    writeSegment(log, 1, [envLine({ payload: 'real' })])
    const got: unknown[] = []
    await replay(log, (p) => {
      got.push(p)
    })
    expect(got).toEqual(['real'])
    for (const f of foreign) expect(fs.existsSync(path.join(dir, f))).toBe(true)
    expect(fs.lstatSync(path.join(dir, 'orders.000000000008.log')).isSymbolicLink()).toBe(true)
  })
})

describe('replay reads .gz segments transparently', () => {
  it('hand-made .gz segments, mixed with plain ones', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, Array.from({ length: 100 }, (_, i) => envLine({ payload: i })), { gz: true, mtime: 1000 })
    writeSegment(log, 2, Array.from({ length: 100 }, (_, i) => envLine({ payload: 100 + i })), { mtime: 2000 })
    const got: number[] = []
    const s = await replay(log, (p) => {
      got.push(p as number)
    })
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i))
    expect(s.segmentsRemoved).toBe(2)
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('orders.'))).toEqual([])
  })

  it('segments compressed by a Logger with compress: true', async () => {
    const dir = tmpDir()
    const dlq = await openLog(dir, { compress: true })
    for (let i = 0; i < 300; i++) await dlq.log({ i }, 'x')
    await dlq.rotate()
    await until(() => fs.readdirSync(dir).some((n) => /^orders\.\d{12}\.log\.gz$/.test(n)), 10_000, 'compression')
    await until(() => !fs.readdirSync(dir).some((n) => /^orders\.\d{12}\.log$/.test(n)), 10_000, 'source removal')
    const got: number[] = []
    const s = await dlq.replay((p) => {
      got.push((p as { i: number }).i)
    })
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i))
    expect(s.segmentsRemoved).toBe(1)
    expect(fs.readdirSync(dir).filter((n) => /^orders\.\d/.test(n))).toEqual([])
  })

  it('a replay racing the background compression of the segment it just sealed delivers each item exactly once', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = tmpDir()
      const log = path.join(dir, 'orders.log')
      const dlq = await Logger.open(log, { compress: true, sealPollInterval: 0 })
      for (let i = 0; i < 2000; i++) void dlq.log({ i, pad: 'z'.repeat(200) }, 'x')
      await dlq.flush()
      const got: number[] = []
      const onItem = (p: unknown) => {
        got.push((p as { i: number }).i)
      }
      const first = await dlq.replay(onItem)
      await dlq.close()
      const second = await replay(log, onItem)
      expect(first.delivered + second.delivered).toBe(2000)
      expect(got.length).toBe(2000)
      expect(new Set(got).size).toBe(2000)
      expect(fs.readdirSync(dir).filter((n) => /^orders\.\d/.test(n))).toEqual([])
    }
  })
})

describe('replay and record size', () => {
  it('round-trips a several-MiB record logged with a large maxRecordSize, also when re-logged', async () => {
    const dir = tmpDir()
    const dlq = await openLog(dir, { maxRecordSize: '8MiB' })
    const big = { blob: 'é'.repeat(1024 * 1024) + 'x'.repeat(3 * 1024 * 1024), tail: [1, 2, 3] }
    await dlq.log({ small: 1 }, 'a')
    await dlq.log(big, 'b', 1, { id: 'big' })
    await dlq.log({ small: 2 }, 'c')
    let calls = 0
    const first = await dlq.replay(
      (p, env) => {
        if (env.id === 'big') {
          calls++
          expect(p).toEqual(big)
          throw new Error('try later')
        }
      },
      { maxRecordSize: '8MiB', initialWait: 0, maxWait: 0 },
    )
    expect(first).toMatchObject({ delivered: 2, requeued: 1, corrupt: 0 })
    const relogged = retryRecords(path.join(dir, 'orders.log'))
    expect(relogged).toHaveLength(1)
    expect(relogged[0].line.endsWith(`"payload":${JSON.stringify(big)}}`)).toBe(true)
    const second = await dlq.replay((p) => {
      calls++
      expect(p).toEqual(big)
    }, { maxRecordSize: '8MiB' })
    expect(second).toMatchObject({ delivered: 1, corrupt: 0 })
    expect(calls).toBe(2)
  })

  it('quarantines a line over maxRecordSize without stopping: the lines after it are delivered', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const lines = [
      envLine({ payload: 'before' }),
      envLine({ payload: 'm'.repeat(200_000) }), // inside one read chunk
      envLine({ payload: 'between' }),
      envLine({ payload: 'M'.repeat(5 * 1024 * 1024) }), // spans several read chunks
      envLine({ payload: 'after' }),
    ]
    writeSegment(log, 1, lines)
    const got: unknown[] = []
    const s = await replay(log, (p) => {
      got.push(p)
    }, { maxRecordSize: '100KiB' })
    expect(got).toEqual(['before', 'between', 'after'])
    expect(s).toMatchObject({ handled: 5, delivered: 3, corrupt: 2, segmentsRemoved: 1 })
    const q = corruptRecords(log).map((r) => r.obj)
    const offs = lineOffsets(lines)
    expect(q.map((r) => r.offset)).toEqual([offs[1], offs[3]])
    expect(q.map((r) => r.length)).toEqual([Buffer.byteLength(lines[1]), Buffer.byteLength(lines[3])])
    for (const r of q) {
      expect(r.segment).toBe('orders.000000000001.log')
      expect(r.error).toMatch(/exceeds maxRecordSize/)
      expect(r.rawTruncated).toBe(true)
      expect(String(r.raw).startsWith('{"ts":')).toBe(true)
      expect(String(r.raw).length).toBeLessThanOrEqual(64 * 1024)
    }
    // Nothing of the record is lost: its complete line is kept in the file the record names.
    expect(q.map((r) => r.rawFile)).toEqual([`corrupt-orders.000000000001.log.${offs[1]}.line`, `corrupt-orders.000000000001.log.${offs[3]}.line`])
    expect(fs.readFileSync(path.join(dir, String(q[0].rawFile)), 'utf8')).toBe(lines[1])
    expect(fs.readFileSync(path.join(dir, String(q[1].rawFile)), 'utf8')).toBe(lines[3])
    expect(fs.statSync(path.join(dir, String(q[1].rawFile))).mode & 0o777).toBe(0o600)
  })

  it("dlq.replay() reads every record its logger accepted: maxRecordSize defaults to the logger's", async () => {
    const dir = tmpDir()
    const dlq = await openLog(dir, { maxRecordSize: '32MiB' })
    const big = 'b'.repeat(17 * 1024 * 1024) // over the replay's own 16 MiB default
    await dlq.log({ big }, 'huge')
    let seen = 0
    const s = await dlq.replay((p) => {
      seen = (p as { big: string }).big.length
    })
    expect(s).toMatchObject({ delivered: 1, corrupt: 0 })
    expect(seen).toBe(big.length)
  })
})
