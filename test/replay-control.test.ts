/**
 * Stopping and steering a replay: abort signal, limit, dry run, and a failing re-log write.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Logger, replay, type DeadLetterError } from '../src/index.js'
import { readCheckpoint } from '../src/store/checkpoint.js'
import { tmpDir } from './helpers/tmp.js'
import {
  corruptRecords,
  envLine,
  lineOffsets,
  permanentRecords,
  prng,
  retryRecords,
  snapshot,
  stateFiles,
  writeSegment,
} from './fixtures/replay-util.js'

const NOW = 1_800_000_000_000

afterEach(() => {
  vi.restoreAllMocks()
})

function items(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => envLine({ id: `i${from + i}`, payload: from + i }))
}

function countBy(xs: number[]): Map<number, number> {
  const m = new Map<number, number>()
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1)
  return m
}

describe('abort via signal', () => {
  for (const retries of [0, 2]) {
    it(`stops taking items, lets in-flight ones finish, checkpoints; the next run delivers the rest exactly once (retries: ${retries})`, async () => {
      const log = path.join(tmpDir(), 'orders.log')
      writeSegment(log, 1, items(120, 0), { mtime: 1000 })
      writeSegment(log, 2, items(80, 120), { mtime: 2000 })
      const rand = prng(7)
      const ac = new AbortController()
      const started: number[] = []
      const finished: number[] = []
      const s1 = await replay(
        log,
        async (p) => {
          started.push(p as number)
          if (started.length === 50) ac.abort()
          await new Promise((r) => setTimeout(r, Math.floor(rand() * 4)))
          finished.push(p as number)
        },
        { concurrency: 3, signal: ac.signal, retries, retryDelay: 0 },
      )
      expect(s1.stopped).toBe('abort')
      // Everything taken finished and was delivered; nothing was taken after the abort but in-flight items.
      expect(finished.sort((a, b) => a - b)).toEqual(started.slice().sort((a, b) => a - b))
      expect(s1.delivered).toBe(started.length)
      expect(s1.handled).toBe(started.length)
      expect(started.length).toBeLessThanOrEqual(50 + 2)
      expect(s1.requeued).toBe(0)
      expect(retryRecords(log).some((r) => r.file.includes('.r'))).toBe(false)
      // The first segment is still there, with a checkpoint.
      expect(stateFiles(path.dirname(log))).toEqual(['orders.000000000001.log.state'])

      const second: number[] = []
      const s2 = await replay(log, (p) => {
        second.push(p as number)
      })
      expect(s2.stopped).toBe(null)
      const all = [...finished, ...second]
      const counts = countBy(all)
      expect(counts.size).toBe(200)
      expect([...counts.values()].every((c) => c === 1)).toBe(true)
      expect(stateFiles(path.dirname(log))).toEqual([])
    })
  }

  it('an already aborted signal handles nothing and changes nothing in the segments', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, items(10))
    const s = await replay(log, () => {
      throw new Error('not called')
    }, { signal: AbortSignal.abort() })
    expect(s).toMatchObject({ stopped: 'abort', handled: 0 })
    expect(retryRecords(log)).toHaveLength(10)
  })
})

describe('limit', () => {
  it('stops after N items; the next run continues where it stopped', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, items(20, 0), { mtime: 1000 })
    writeSegment(log, 2, items(20, 20), { mtime: 2000 })
    writeSegment(log, 3, items(20, 40), { mtime: 3000 })
    const got: number[][] = []
    for (let run = 0; run < 3; run++) {
      const mine: number[] = []
      const s = await replay(log, (p) => {
        mine.push(p as number)
      }, { limit: 25 })
      got.push(mine)
      expect(s.handled).toBe(run < 2 ? 25 : 10)
      expect(s.stopped).toBe(run < 2 ? 'limit' : null)
    }
    expect(got[0]).toEqual(Array.from({ length: 25 }, (_, i) => i))
    expect(got[1]).toEqual(Array.from({ length: 25 }, (_, i) => 25 + i))
    expect(got[2]).toEqual(Array.from({ length: 10 }, (_, i) => 50 + i))
    expect(fs.readdirSync(path.dirname(log))).toEqual([])
  })

  it('counts every outcome, and works with concurrency', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lines = [...items(30)]
    lines.splice(5, 0, 'garbage', envLine({ attempt: 9, payload: 'exhausted' }), envLine({ dueTs: NOW + 1, payload: 'later' }))
    writeSegment(log, 1, lines)
    const rand = prng(3)
    const delivered: unknown[] = []
    const s = await replay(
      log,
      async (p) => {
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 3)))
        delivered.push(p)
      },
      { limit: 10, concurrency: 4, now: () => NOW },
    )
    expect(s).toMatchObject({ handled: 10, corrupt: 1, permanent: 1, deferred: 1, delivered: 7, stopped: 'limit' })
    const rest: unknown[] = []
    const s2 = await replay(log, (p) => {
      rest.push(p)
    }, { now: () => NOW + 10 })
    expect(s2.delivered).toBe(24)
    expect([...delivered, ...rest].sort()).toEqual([...Array.from({ length: 30 }, (_, i) => i), 'later'].sort())
  })
})

describe('dry run', () => {
  it('delivers nothing, changes no file, and reports what a real run would do', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log, { sealPollInterval: 0, now: () => NOW - 1000 })
    for (let i = 0; i < 5; i++) await dlq.log({ i }, 'x')
    await dlq.rotate()
    // Left in the active file: a real run would seal and replay these too.
    for (let i = 5; i < 7; i++) await dlq.log({ i }, 'x')
    await dlq.close()
    writeSegment(log, 2, [
      envLine({ ts: NOW, payload: 'due' }),
      envLine({ ts: NOW, dueTs: NOW + 1, payload: 'deferred' }),
      envLine({ ts: NOW, attempt: 5, payload: 'exhausted' }),
      envLine({ ts: 1, payload: 'expired' }),
      '{"torn',
      '',
    ], { gz: true })
    writeSegment(log, 1, [envLine({ ts: NOW, payload: 'replayer-owned' })], { owner: 'replayer' })
    const before = snapshot(dir)
    let calls = 0
    const s = await replay(log, () => {
      calls++
    }, { dryRun: true, now: () => NOW, ttl: '1d' })
    expect(calls).toBe(0)
    expect(snapshot(dir)).toEqual(before)
    const counts = { handled: 14, due: 9, deferred: 1, permanent: 1, expired: 1, corrupt: 2 }
    expect(s).toMatchObject({ ...counts, dryRun: true, delivered: 0, segmentsRemoved: 0 })
    // The real run does what the dry run announced.
    const real = await replay(log, () => {
      calls++
    }, { now: () => NOW, ttl: '1d' })
    expect(real).toMatchObject({ ...counts, dryRun: false, delivered: 9 })
    expect(calls).toBe(9)
  })

  it('does not need or take the replay lock', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, items(3))
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let reached!: () => void
    const inHandler = new Promise<void>((r) => (reached = r))
    const real = replay(log, () => {
      reached()
      return gate
    })
    await inHandler
    await expect(replay(log, () => {})).rejects.toMatchObject({ code: 'DLQ_REPLAY_LOCKED' })
    const dry = await replay(log, () => {}, { dryRun: true })
    expect(dry).toMatchObject({ dryRun: true, due: 3 })
    release()
    expect((await real).delivered).toBe(3)
  })

  it("counts the active file when no writer is alive, but never reads a live writer's active file", async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, items(2))
    fs.writeFileSync(log, items(3, 100).join('\n') + '\n') // active file, no writer
    expect(await replay(log, () => {}, { dryRun: true })).toMatchObject({ due: 5, corrupt: 0 })

    const dlq = await Logger.open(log)
    try {
      // A half-written last line, as a live writer may have at any instant.
      fs.appendFileSync(log, '{"ts":1,"attempt":1,"rea')
      const s = await replay(log, () => {}, { dryRun: true })
      expect(s).toMatchObject({ due: 2, corrupt: 0 })
    } finally {
      await dlq.close()
    }
  })
})

describe('a re-log that cannot be written', () => {
  it('stops the replay with the error and never checkpoints past the item; nothing is lost', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const lines = items(100)
    writeSegment(log, 1, lines)
    const offsets = lineOffsets(lines)
    // Fail every write to the replayer's own retry segment after the first: a full disk.
    const realWrite = fs.writeSync
    let writes = 0
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, ...rest: unknown[]) => {
      let target = ''
      try {
        target = fs.readlinkSync(`/proc/self/fd/${fd}`)
      } catch {}
      if (/orders\.r\d{12}\.log$/.test(target) && ++writes > 1) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
      }
      return (realWrite as (...a: unknown[]) => number)(fd, ...rest)
    }) as typeof fs.writeSync)
    const failed: number[] = []
    const err = await replay(
      log,
      (p) => {
        failed.push(p as number)
        throw new Error('downstream down')
      },
      { checkpointEvery: 10, checkpointInterval: '1h', initialWait: 0, maxWait: 0 },
    ).then(
      () => undefined,
      (e: unknown) => e as DeadLetterError,
    )
    expect(err).toBeDefined()
    expect(err!.code).toBe('DLQ_IO')
    expect(err!.systemCode).toBe('ENOSPC')
    vi.restoreAllMocks()

    const cp = await readCheckpoint(path.join(dir, 'orders.000000000001.log.state'), 'orders.000000000001.log')
    expect(cp.status).toBe('ok')
    const cpOffset = cp.status === 'ok' ? cp.checkpoint.offset : -1
    // The checkpoint covers exactly the items whose re-logs were written, no further.
    const relogged = retryRecords(log).filter((r) => r.file.includes('.r'))
    expect(cpOffset).toBe(offsets[relogged.length] ?? -1)
    expect(relogged.map((r) => r.obj.payload)).toEqual(Array.from({ length: relogged.length }, (_, i) => i))
    expect(relogged.length).toBeLessThan(failed.length)

    // With space again, a new run picks up from the checkpoint: every item ends up somewhere.
    const delivered: number[] = []
    await replay(log, (p) => {
      delivered.push(p as number)
    }, { initialWait: 0, maxWait: 0 })
    const accounted = countBy([...delivered, ...relogged.map((r) => r.obj.payload as number)])
    for (let i = 0; i < 100; i++) expect(accounted.get(i) ?? 0).toBeGreaterThanOrEqual(1)
    expect(permanentRecords(log)).toEqual([])
    expect(corruptRecords(log)).toEqual([])
  })
})

describe('handlerTimeout', () => {
  it('a handler call that never settles counts as failed after handlerTimeout: the run ends, the item is re-logged', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, items(3))
    const s = await replay(
      log,
      (p) => (p === 1 ? new Promise(() => {}) : undefined), // item 1 hangs forever
      { handlerTimeout: '50ms', concurrency: 2, now: () => NOW, initialWait: 0, maxWait: 0 },
    )
    expect(s).toMatchObject({ handled: 3, delivered: 2, requeued: 1 })
    const [relog] = retryRecords(log)
    expect(relog.obj).toMatchObject({ attempt: 2, reason: 'handler did not settle within 50 ms', errorName: 'TimeoutError', payload: 1 })
  })

  it('also bounds in-place retries, and is validated', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeSegment(log, 1, items(1))
    let calls = 0
    const s = await replay(log, () => {
      calls++
      return new Promise(() => {})
    }, { handlerTimeout: 20, retries: 2, retryDelay: 1, now: () => NOW })
    expect(s.requeued).toBe(1)
    expect(calls).toBe(3)
    await expect(replay(log, () => {}, { handlerTimeout: 0 })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
  })
})
