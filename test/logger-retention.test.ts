import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DeadLetterError, Logger, type EvictedEvent } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { tmpDir } from './helpers/tmp.js'

const open: Logger[] = []
afterEach(async () => {
  for (const d of open.splice(0)) await d.close()
})

function retryFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n === 'orders.log' || /^orders\.\d{12}\.log$/.test(n))
    .sort()
}

function permanentSealed(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^permanent-orders\.\d{12}\.log$/.test(n))
    .sort()
}

function numbersIn(dir: string, files: string[]): number[] {
  const out: number[] = []
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8')
    for (const l of text.split('\n')) if (l) out.push((parseEnvelope(l).payload as { n: number }).n)
  }
  return out
}

function bytesOf(dir: string, files: string[]): number {
  return files.reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0)
}

const pad = 'p'.repeat(150)

describe("maxRetryBytes with onFull: 'reject'", () => {
  it('rejects DLQ_FULL once the cap is reached, losing nothing accepted before', async () => {
    const dir = tmpDir()
    const cap = 8192
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, maxRetryBytes: cap, onFull: 'reject' })
    open.push(dlq)
    const accepted: number[] = []
    let full: DeadLetterError | undefined
    for (let n = 0; n < 1000 && !full; n++) {
      try {
        await dlq.log({ n, pad }, 'x')
        accepted.push(n)
      } catch (err) {
        full = err as DeadLetterError
      }
    }
    expect(full?.code).toBe('DLQ_FULL')
    expect(full?.message).toContain(String(cap))
    expect(accepted.length).toBeGreaterThan(10)
    expect(numbersIn(dir, retryFiles(dir))).toEqual(accepted)
    expect(bytesOf(dir, retryFiles(dir))).toBeLessThanOrEqual(cap)
    // Close to the cap: one more record would not fit.
    const line = fs.statSync(path.join(dir, 'orders.log')).size / accepted.length
    expect(bytesOf(dir, retryFiles(dir)) + line).toBeGreaterThan(cap)
    // Stays full; the permanent log is not capped.
    await expect(dlq.log({ n: -1, pad }, 'x')).rejects.toMatchObject({ code: 'DLQ_FULL' })
    await dlq.logPermanent({ n: -2, pad }, 'x')
  })

  it('counts sealed segments toward the cap and makes room again once they are gone', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, maxRetryBytes: 4096, onFull: 'reject' })
    open.push(dlq)
    let n = 0
    for (; n < 10; n++) await dlq.log({ n, pad }, 'x')
    const sealed = await dlq.rotate()
    let rejected = 0
    for (let k = 0; k < 40; k++) {
      await dlq.log({ n: n++, pad }, 'x').catch((e: DeadLetterError) => {
        expect(e.code).toBe('DLQ_FULL')
        rejected++
      })
    }
    expect(rejected).toBeGreaterThan(0)
    expect(bytesOf(dir, retryFiles(dir))).toBeLessThanOrEqual(4096)
    // What a replay does when it has drained a segment.
    fs.unlinkSync(sealed!)
    await dlq.log({ n: 1000, pad }, 'x')
    expect(numbersIn(dir, ['orders.log'])).toContain(1000)
  })

  it('un-awaited concurrent logs are capped too, and every acknowledged record is on disk', async () => {
    const dir = tmpDir()
    const cap = 16 * 1024
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, maxRetryBytes: cap, onFull: 'reject' })
    open.push(dlq)
    const results = await Promise.allSettled(Array.from({ length: 500 }, (_, n) => dlq.log({ n, pad }, 'x')))
    const ok = results.flatMap((r, n) => (r.status === 'fulfilled' ? [n] : []))
    const bad = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
    expect(bad.length).toBeGreaterThan(0)
    expect(bad.every((r) => r.reason.code === 'DLQ_FULL')).toBe(true)
    expect(numbersIn(dir, retryFiles(dir)).sort((a, b) => a - b)).toEqual(ok)
    expect(bytesOf(dir, retryFiles(dir))).toBeLessThanOrEqual(cap)
  })
})

describe("maxRetryBytes with onFull: 'drop-oldest'", () => {
  it('evicts the oldest sealed segments, emitting counts that match what was removed', async () => {
    const dir = tmpDir()
    const cap = 8192
    const dlq = await Logger.open(path.join(dir, 'orders.log'), {
      sealPollInterval: 0,
      maxRetryBytes: cap,
      onFull: 'drop-oldest',
      rotateSize: 2048,
      now: () => 1,
    })
    open.push(dlq)
    const events: EvictedEvent[] = []
    dlq.on('evicted', (e) => events.push(e))
    let totalBytes = 0
    const N = 300
    for (let n = 0; n < N; n++) {
      await dlq.log({ n, pad }, 'x')
    }
    await dlq.flush()
    const kept = numbersIn(dir, retryFiles(dir))
    totalBytes = 0
    expect(events.length).toBeGreaterThan(0)
    for (const e of events) {
      expect(e).toMatchObject({ kind: 'retry', policy: 'drop-oldest' })
      for (const f of e.files) expect(fs.existsSync(f)).toBe(false)
      totalBytes += e.bytes
    }
    const evictedRecords = events.reduce((s, e) => s + e.records, 0)
    // Every record is either still on disk or counted as evicted, never both, never neither.
    expect(kept.length + evictedRecords).toBe(N)
    // The oldest went first: what is left is the newest, contiguous run.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, k) => N - kept.length + k))
    // Evicted bytes are exactly the bytes of the evicted records (the clock is fixed).
    const onDisk = bytesOf(dir, retryFiles(dir))
    expect(onDisk).toBeLessThanOrEqual(cap)
    const lineLen = (n: number) => Buffer.byteLength(`{"ts":1,"attempt":1,"reason":"x","payload":${JSON.stringify({ n, pad })}}\n`)
    let expectEvictedBytes = 0
    for (let n = 0; n < N - kept.length; n++) expectEvictedBytes += lineLen(n)
    expect(totalBytes).toBe(expectEvictedBytes)
    expect(new Set(events.flatMap((e) => e.files)).size).toBe(events.flatMap((e) => e.files).length)
  })

  it('never rejects DLQ_FULL while older data can be dropped, even when the active segment is what is big', async () => {
    const dir = tmpDir()
    const cap = 4096
    // rotateSize well above the cap: only the active file can hold the bulk.
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, maxRetryBytes: cap, onFull: 'drop-oldest' })
    open.push(dlq)
    const events: EvictedEvent[] = []
    dlq.on('evicted', (e) => events.push(e))
    await dlq.log({ n: 0, pad }, 'x')
    await dlq.rotate() // one small sealed segment
    const N = 200
    for (let n = 1; n < N; n++) await dlq.log({ n, pad }, 'x')
    const kept = numbersIn(dir, retryFiles(dir))
    const evicted = events.reduce((s, e) => s + e.records, 0)
    expect(kept.length + evicted).toBe(N)
    expect(kept.at(-1)).toBe(N - 1)
    expect(bytesOf(dir, retryFiles(dir))).toBeLessThanOrEqual(cap)
  })

  it('concurrent un-awaited logs under drop-oldest: eviction events count each removed record once', async () => {
    const dir = tmpDir()
    const cap = 8192
    const dlq = await Logger.open(path.join(dir, 'orders.log'), {
      sealPollInterval: 0,
      maxRetryBytes: cap,
      onFull: 'drop-oldest',
      rotateSize: 1024,
    })
    open.push(dlq)
    const events: EvictedEvent[] = []
    dlq.on('evicted', (e) => events.push(e))
    const N = 400
    const results = await Promise.allSettled(Array.from({ length: N }, (_, n) => dlq.log({ n, pad }, 'x')))
    expect(results.filter((r) => r.status === 'rejected')).toEqual([])
    await dlq.flush()
    const kept = numbersIn(dir, retryFiles(dir))
    const files = events.flatMap((e) => e.files)
    expect(new Set(files).size).toBe(files.length)
    expect(kept.length + events.reduce((s, e) => s + e.records, 0)).toBe(N)
    expect(bytesOf(dir, retryFiles(dir))).toBeLessThanOrEqual(cap)
  })

  it('rejects DLQ_FULL for a single record bigger than the cap', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, maxRetryBytes: 2048, onFull: 'drop-oldest' })
    open.push(dlq)
    await dlq.log({ n: 0 }, 'x')
    await expect(dlq.log({ n: 1, pad: 'z'.repeat(4000) }, 'x')).rejects.toMatchObject({ code: 'DLQ_FULL' })
  })
})

describe('permanent log retention', () => {
  it("never deletes a live replay's own permanent segment while that replay is still writing it", async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: 1024, maxBackups: 1 })
    open.push(dlq)
    const events: EvictedEvent[] = []
    dlq.on('evicted', (e) => events.push(e))
    for (let n = 0; n < 30; n++) await dlq.log({ n }, 'to be given up on')
    // The replay gives up on every item (PermanentError), then blocks on the last one, holding
    // the replay lock with its own permanent segment open.
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let calls = 0
    const running = dlq.replay(async () => {
      if (++calls === 30) await gate
      const e = new Error('never'); e.name = 'PermanentError'; throw e
    }, { checkpointEvery: 1 })
    while (calls < 30) await new Promise((r) => setTimeout(r, 5))
    // Meanwhile the application fills the permanent log, so retention runs at every seal.
    for (let n = 100; n < 180; n++) await dlq.logPermanent({ n, pad }, 'manual')
    await dlq.flush()
    release()
    expect((await running).permanent).toBe(30)
    const replayerFiles = events.flatMap((e) => e.files).filter((f) => /\.r\d{12}\.log$/.test(f))
    expect(replayerFiles).toEqual([])
    const own = fs.readdirSync(dir).filter((f) => /^permanent-orders\.r\d{12}\.log$/.test(f))
    expect(own).toHaveLength(1)
    expect(fs.readFileSync(path.join(dir, own[0]), 'utf8').trim().split('\n')).toHaveLength(30)
  })

  it('maxBackups keeps at most N sealed permanent segments and reports what it removed', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: 1024, maxBackups: 2 })
    open.push(dlq)
    const events: EvictedEvent[] = []
    dlq.on('evicted', (e) => events.push(e))
    const N = 80
    for (let n = 0; n < N; n++) await dlq.logPermanent({ n, pad }, 'x')
    await dlq.close()
    const sealed = permanentSealed(dir)
    expect(sealed.length).toBe(2)
    expect(events.length).toBeGreaterThan(0)
    for (const e of events) expect(e).toMatchObject({ kind: 'permanent', policy: 'maxBackups' })
    const files = events.flatMap((e) => e.files)
    expect(new Set(files).size).toBe(files.length)
    for (const f of files) expect(fs.existsSync(f)).toBe(false)
    const kept = numbersIn(dir, [...sealed, 'permanent-orders.log'])
    expect(kept.length + events.reduce((s, e) => s + e.records, 0)).toBe(N)
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, k) => N - kept.length + k))
    // The retry log is never touched by permanent retention.
    expect(fs.readFileSync(path.join(dir, 'orders.log'), 'utf8')).toBe('')
  })

  it('maxAge removes sealed permanent segments older than the limit, reporting policy maxAge', async () => {
    const dir = tmpDir()
    let clock = Date.now()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: 1024, maxAge: '1h', now: () => clock })
    open.push(dlq)
    const events: EvictedEvent[] = []
    dlq.on('evicted', (e) => events.push(e))
    for (let n = 0; n < 20; n++) await dlq.logPermanent({ n, pad }, 'old')
    await dlq.flush()
    const old = permanentSealed(dir)
    expect(old.length).toBeGreaterThan(0)
    expect(events).toEqual([])
    clock += 2 * 3_600_000
    // The next seal runs retention: everything sealed before is now two hours old.
    for (let n = 20; n < 40; n++) await dlq.logPermanent({ n, pad }, 'new')
    await dlq.close()
    const gone = events.flatMap((e) => e.files).map((f) => path.basename(f))
    expect(events.every((e) => e.kind === 'permanent' && e.policy === 'maxAge')).toBe(true)
    expect(gone).toEqual(expect.arrayContaining(old))
    for (const f of old) expect(fs.existsSync(path.join(dir, f))).toBe(false)
    const kept = numbersIn(dir, [...permanentSealed(dir), 'permanent-orders.log'])
    expect(kept.length + events.reduce((s, e) => s + e.records, 0)).toBe(40)
  })

  it('maxBackups is applied at open to segments already there', async () => {
    const dir = tmpDir()
    for (let s = 1; s <= 5; s++) {
      fs.writeFileSync(path.join(dir, `permanent-orders.00000000000${s}.log`), `{"ts":1,"attempt":1,"reason":null,"payload":{"n":${s}}}\n`)
      const t = Date.now() / 1000 - 100 + s
      fs.utimesSync(path.join(dir, `permanent-orders.00000000000${s}.log`), t, t)
    }
    const events: EvictedEvent[] = []
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, maxBackups: 3 })
    dlq.on('evicted', (e) => events.push(e))
    await dlq.close()
    expect(permanentSealed(dir)).toEqual(['permanent-orders.000000000003.log', 'permanent-orders.000000000004.log', 'permanent-orders.000000000005.log'])
    expect(events).toEqual([
      expect.objectContaining({ kind: 'permanent', policy: 'maxBackups', records: 2, files: expect.arrayContaining([expect.stringContaining('000000000001')]) }),
    ])
  })
})
