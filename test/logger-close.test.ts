import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { DeadLetterError, Logger } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { tmpDir } from './helpers/tmp.js'

/** n of every record in every retry (or permanent) segment of dir; every line must parse. */
function onDisk(dir: string, family: 'orders' | 'permanent-orders' = 'orders'): number[] {
  const re = new RegExp(`^${family}(\\.\\d{12})?\\.log(\\.gz)?$`)
  const out: number[] = []
  for (const f of fs.readdirSync(dir).filter((n) => re.test(n))) {
    const buf = fs.readFileSync(path.join(dir, f))
    const text = (f.endsWith('.gz') ? zlib.gunzipSync(buf) : buf).toString('utf8')
    expect(text === '' || text.endsWith('\n'), `${f} ends with a newline`).toBe(true)
    for (const l of text.split('\n')) if (l) out.push((parseEnvelope(l).payload as { n: number }).n)
  }
  return out.sort((a, b) => a - b)
}

function outcome(results: PromiseSettledResult<void>[]): { ok: number[]; rejected: DeadLetterError[] } {
  const ok: number[] = []
  const rejected: DeadLetterError[] = []
  results.forEach((r, n) => (r.status === 'fulfilled' ? ok.push(n) : rejected.push(r.reason)))
  return { ok, rejected }
}

describe('close() under load', () => {
  it('with thousands of log() calls in flight: every call made before close() is written, later ones reject', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, maxBufferedBytes: 16 * 1024 })
    const calls: Promise<void>[] = []
    for (let n = 0; n < 5000; n++) calls.push(dlq.log({ n, pad: 'x'.repeat(n % 200) }, 'in flight'))
    const closing = dlq.close()
    // Calls made after close() started are refused at once.
    for (let n = 5000; n < 5100; n++) calls.push(dlq.log({ n }, 'late'))
    const results = await Promise.allSettled(calls)
    await closing
    const { ok, rejected } = outcome(results)
    for (const e of rejected) {
      expect(e).toBeInstanceOf(DeadLetterError)
      expect(e.code).toBe('DLQ_CLOSED')
    }
    // Calls made before close(), even those still waiting for buffer room, are written.
    expect(ok).toEqual(Array.from({ length: 5000 }, (_, n) => n))
    expect(rejected).toHaveLength(100)
    // Exactly the acknowledged records: nothing lost, nothing written for a refused call.
    expect(onDisk(dir)).toEqual(ok)
  })

  it('producers looping on await log() stop cleanly with DLQ_CLOSED and lose nothing they were told was saved', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: 8192 })
    const acked: number[] = []
    const errors: unknown[] = []
    let next = 0
    const producer = async () => {
      for (;;) {
        const n = next++
        try {
          await dlq.log({ n }, 'loop')
          acked.push(n)
        } catch (err) {
          errors.push(err)
          return
        }
      }
    }
    const producers = Array.from({ length: 30 }, producer)
    // Close mid-stream once the producers are demonstrably running, however slow the machine.
    const deadline = Date.now() + 30_000
    while (acked.length <= 100) {
      if (Date.now() > deadline) throw new Error(`only ${acked.length} records acknowledged in 30 s`)
      await new Promise((r) => setTimeout(r, 5))
    }
    await dlq.close()
    await Promise.all(producers)
    expect(errors).toHaveLength(30)
    expect(errors.every((e) => (e as DeadLetterError).code === 'DLQ_CLOSED')).toBe(true)
    expect(acked.length).toBeGreaterThan(100)
    expect(onDisk(dir)).toEqual([...acked].sort((a, b) => a - b))
  })

  it('with rotation, compression and both families busy, the files are consistent after close', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: 4096, compress: true })
    const retry: Promise<void>[] = []
    const perm: Promise<void>[] = []
    for (let n = 0; n < 3000; n++) {
      retry.push(dlq.log({ n }, 'r'))
      if (n % 3 === 0) perm.push(dlq.logPermanent({ n }, 'p'))
    }
    const rot = dlq.rotate().catch((e: DeadLetterError) => e)
    await dlq.close()
    const r = outcome(await Promise.allSettled(retry))
    const p = outcome(await Promise.allSettled(perm))
    const rotated = await rot
    expect(rotated === null || typeof rotated === 'string' || (rotated as DeadLetterError).code === 'DLQ_CLOSED').toBe(true)
    for (const e of [...r.rejected, ...p.rejected]) expect(e.code).toBe('DLQ_CLOSED')
    expect(onDisk(dir)).toEqual(r.ok)
    expect(onDisk(dir, 'permanent-orders')).toEqual(p.ok.map((k) => k * 3))
    // close() waited for compression: no temp files, no sealed segment left uncompressed.
    const names = fs.readdirSync(dir)
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([])
    expect(names.filter((n) => /\.\d{12}\.log$/.test(n))).toEqual([])
    expect(names.filter((n) => n.endsWith('.gz')).length).toBeGreaterThan(0)
  })

  it('after close the log reopens with everything in place and appends after it', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    const a = await Logger.open(file, { sealPollInterval: 0 })
    const calls = Array.from({ length: 2000 }, (_, n) => a.log({ n }, 'a'))
    await a.close()
    const { ok } = outcome(await Promise.allSettled(calls))
    const b = await Logger.open(file, { sealPollInterval: 0 })
    await b.log({ n: 99_999 }, 'b')
    await b.close()
    expect(onDisk(dir)).toEqual([...ok, 99_999])
  })

  it('close() while a flush() and a rotate() are pending resolves all of them', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0 })
    for (let n = 0; n < 1000; n++) void dlq.log({ n }, 'x').catch(() => {})
    const f = dlq.flush()
    const r = dlq.rotate()
    const c = dlq.close()
    const [fr, rr, cr] = await Promise.allSettled([f, r, c])
    expect(fr.status).toBe('fulfilled')
    expect(cr.status).toBe('fulfilled')
    expect(rr.status).toBe('fulfilled')
    expect(onDisk(dir)).toEqual([...Array(1000).keys()])
  })
})
