/**
 * close() with thousands of log() calls in flight (many of them waiting for buffer room):
 * every call settles within a bounded time, each resolved one is on disk exactly once, each
 * rejected one says DLQ_CLOSED and is not on disk, and the files are consistent afterwards.
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { Logger, type DeadLetterError } from '../../src/index.js'
import { logPaths } from '../../src/store/segments.js'
import { tmpDir } from '../helpers/tmp.js'
import { count, report, SEED } from './helpers/config.js'
import { familyLines } from './helpers/logfiles.js'
import { Rng } from '../helpers/rng.js'

const CALLS = count('DLQ_SOAK_CLOSE_CALLS', 5000, 50_000)
const SETTLE_MS = 30_000

function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} still pending after ${SETTLE_MS} ms`)), SETTLE_MS)
    }),
  ]).finally(() => clearTimeout(timer))
}

const scenarios = [
  { name: 'kernel, small buffer (most calls wait for room), close at once', durability: 'kernel', maxBufferedBytes: '16K', rotateSize: 0, compress: false, delay: 0 },
  { name: 'fsync, rotating and compressing, close after 2 ms', durability: 'fsync', maxBufferedBytes: '64K', rotateSize: '16K', compress: true, delay: 2 },
  { name: 'kernel, rotating, rotate() and a replay in flight, close after 1 ms', durability: 'kernel', maxBufferedBytes: '32K', rotateSize: '8K', compress: false, delay: 1, extras: true },
] as const

const totals = { calls: 0, resolved: 0, closedRejections: 0 }

for (const [k, sc] of scenarios.entries()) {
  it(`${sc.name}: ${CALLS} in-flight log() calls all settle, files consistent`, async () => {
    const rng = new Rng(SEED + k)
    const dir = tmpDir('dlq-fault-close-')
    const logPath = path.join(dir, 'q.log')
    const paths = logPaths(logPath)
    const logger = await Logger.open(logPath, {
      durability: sc.durability,
      maxBufferedBytes: sc.maxBufferedBytes,
      rotateSize: sc.rotateSize,
      compress: sc.compress,
      sealPollInterval: 0,
    })
    const calls: Array<{ id: string; kind: 'retry' | 'permanent'; p: Promise<void> }> = []
    for (let i = 0; i < CALLS; i++) {
      const id = `c${i}`
      const kind = rng.chance(0.1) ? 'permanent' : 'retry'
      const payload = { i, pad: 'x'.repeat(rng.pick([10, 200, 2000])) }
      calls.push({ id, kind, p: kind === 'permanent' ? logger.logPermanent(payload, 'gone', 1, { id }) : logger.log(payload, 'failed', 1, { id }) })
    }
    const extras: Promise<unknown>[] = []
    if ('extras' in sc) {
      extras.push(logger.rotate())
      // The replay requeues what it reads, so every record stays in the retry log to be counted.
      extras.push(
        logger.replay(
          () => {
            throw new Error('not yet')
          },
          { initialWait: '1h', maxWait: '1h' },
        ),
      )
    }
    if (sc.delay > 0) await new Promise((r) => setTimeout(r, sc.delay))
    const closing = logger.close()
    const late = logger.log({ late: true }, 'after close').then(
      () => undefined,
      (e: DeadLetterError) => e,
    )

    const settled = await bounded(Promise.allSettled(calls.map((c) => c.p)), 'log() calls')
    await bounded(closing, 'close()')
    await bounded(Promise.allSettled(extras), 'rotate()/replay()')
    const lateErr = await late
    expect(lateErr?.code).toBe('DLQ_CLOSED')

    const ok = { retry: new Set<string>(), permanent: new Set<string>() }
    const failed = new Set<string>()
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') ok[calls[i].kind].add(calls[i].id)
      else failed.add(calls[i].id)
    })
    // Every call here was made before close(): all of them are written, none rejected.
    expect([...failed].slice(0, 5)).toEqual([])

    // Files are consistent: every line parses; resolved records are there once, rejected ones not at all.
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([])
    for (const kind of ['retry', 'permanent'] as const) {
      const lines = await familyLines(paths[kind])
      const seen = new Map<string, number>()
      for (const l of lines) {
        expect(l.env, `unparsable ${kind} line in ${l.file}: ${l.text.slice(0, 80)}`).toBeDefined()
        seen.set(l.env!.id!, (seen.get(l.env!.id!) ?? 0) + 1)
      }
      for (const id of ok[kind]) expect(seen.get(id), `resolved ${kind} ${id}`).toBe(1)
      for (const id of failed) expect(seen.has(id), `rejected ${id} is on disk`).toBe(false)
    }
    // The lock was released: the log opens again.
    const again = await Logger.open(logPath, { sealPollInterval: 0 })
    await again.close()

    totals.calls += CALLS
    totals.resolved += ok.retry.size + ok.permanent.size
    totals.closedRejections += failed.size
    if (k === scenarios.length - 1) report('close-under-load', totals)
  })
}
