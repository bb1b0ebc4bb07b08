/**
 * Replay across processes: the replay lock, sealing the active segment through a live
 * writer (or directly when none is alive), and the in-process background replayer.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger, replay, type ReplaySummary, type RotatedEvent } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { exited, forkFixture } from './helpers/child.js'
import { deferred, envLine, retryRecords, replayerSegments, until, writeSegment } from './fixtures/replay-util.js'

const children: ChildProcess[] = []
const loggers: Logger[] = []
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL')
      await exited(c)
    }
  }
  for (const l of loggers.splice(0)) await l.close().catch(() => {})
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/**
 * Seal requests answered by a live writer in this (busy, test-runner) process: generous, so
 * a loaded machine delays a test instead of turning it into the "writer did not answer" case.
 */
const SEAL_TIMEOUT = 120_000

function fork(name: string, args: string[]): ChildProcess {
  const c = forkFixture(name, args)
  children.push(c)
  let err = ''
  c.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  c.on('exit', (code) => {
    if (code) console.error(`${name} exited ${code}: ${err}`)
  })
  return c
}

function message<T = Record<string, unknown>>(c: ChildProcess, pred: (m: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: unknown) => {
      if (pred(m as T)) {
        c.off('message', onMsg)
        c.off('exit', onExit)
        resolve(m as T)
      }
    }
    const onExit = (code: number | null, sig: string | null) => reject(new Error(`child exited (${code ?? sig}) before the expected message`))
    c.on('message', onMsg)
    c.once('exit', onExit)
  })
}

interface ChildResult {
  ok: boolean
  code?: string
  message?: string
  summary?: ReplaySummary
  delivered?: number[]
}

function items(n: number): string[] {
  return Array.from({ length: n }, (_, i) => envLine({ id: `n${i}`, payload: { n: i } }))
}

async function openLogger(log: string, opts: Parameters<typeof Logger.open>[1] = {}): Promise<Logger> {
  const l = await Logger.open(log, opts)
  loggers.push(l)
  return l
}

describe('one replay at a time', () => {
  it('in-process: a second replay (standalone or through the Logger) fails DLQ_REPLAY_LOCKED; the lock is released after', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, items(5))
    const gate = deferred()
    const reached = deferred()
    const first = replay(log, async () => {
      reached.resolve()
      await gate.promise
    })
    await reached.promise
    await expect(replay(log, () => {})).rejects.toMatchObject({ code: 'DLQ_REPLAY_LOCKED', name: 'DeadLetterError' })
    const dlq = await openLogger(log, { sealPollInterval: 0 })
    await expect(dlq.replay(() => {})).rejects.toMatchObject({ code: 'DLQ_REPLAY_LOCKED' })
    gate.resolve()
    expect((await first).delivered).toBe(5)
    await dlq.log({ n: 99 }, 'again')
    const s = await dlq.replay(() => {})
    expect(s.delivered).toBe(1)
  })

  it('a child process cannot replay while this process does', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, items(5))
    const gate = deferred()
    const reached = deferred()
    const first = replay(log, async () => {
      reached.resolve()
      await gate.promise
    })
    await reached.promise
    const child = fork('replay-child.ts', [JSON.stringify({ log, mode: 'run' })])
    const res = await message<ChildResult>(child)
    expect(res).toMatchObject({ ok: false, code: 'DLQ_REPLAY_LOCKED' })
    expect(res.message).toMatch(new RegExp(`pid ${process.pid}`))
    gate.resolve()
    expect((await first).delivered).toBe(5)
  })

  it('this process cannot replay while a child does; once the child is killed its stale lock is reclaimed', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, items(20))
    const child = fork('replay-child.ts', [JSON.stringify({ log, mode: 'block' })])
    await message(child, (m: { blocked?: boolean }) => m.blocked === true)
    await expect(replay(log, () => {})).rejects.toMatchObject({ code: 'DLQ_REPLAY_LOCKED' })
    child.kill('SIGKILL')
    await exited(child)
    const got: number[] = []
    const s = await replay(log, (p) => {
      got.push((p as { n: number }).n)
    })
    // The child never returned from its first handler call, so everything is still to deliver.
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(s.warnings).toEqual([])
  })
})

describe('sealing the active segment from another process', () => {
  it('a child replays while this process keeps logging: the writer seals on request, the child never touches the active file, nothing is lost', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await openLogger(log) // default sealPollInterval (200 ms)
    const rotated: RotatedEvent[] = []
    dlq.on('rotated', (e) => rotated.push(e))
    let n = 0
    for (; n < 100; n++) await dlq.log({ n }, 'parent', 1, { id: `n${n}` })
    // 'block': the child holds its first handler call until told to go on, so this process
    // demonstrably logs while the child replays, after the seal, however the two are scheduled.
    const child = fork('replay-child.ts', [JSON.stringify({ log, mode: 'block', failEvery: 2, opts: { initialWait: 0, maxWait: 0, sealTimeout: SEAL_TIMEOUT } })])
    let blocked = false
    let finished = false
    void message(child, (m: { blocked?: boolean }) => m.blocked === true).then(() => (blocked = true), () => {})
    const result = message<ChildResult>(child, (m) => 'ok' in m).finally(() => (finished = true))
    // Keep logging while the child asks for the seal and replays.
    let afterSeal = 0
    while (!finished) {
      await dlq.log({ n }, 'parent', 1, { id: `n${n}` })
      n++
      if (blocked && ++afterSeal === 20) child.send('go')
      await sleep(2)
    }
    const res = await result
    expect(afterSeal).toBeGreaterThanOrEqual(20)
    expect(res.ok).toBe(true)
    expect(res.summary!.warnings).toEqual([])
    expect(rotated.filter((e) => e.kind === 'retry')).toHaveLength(1)
    expect(res.summary!.requeued).toBeGreaterThan(0)

    // The active file holds only this process's own records, a contiguous run of the latest items.
    await dlq.flush()
    const active = fs
      .readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { attempt: number; reason: string; dueTs?: number; payload: { n: number } })
    expect(active.length).toBeGreaterThan(0)
    expect(active.every((r) => r.attempt === 1 && r.reason === 'parent' && r.dueTs === undefined)).toBe(true)
    const ns = active.map((r) => r.payload.n)
    expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => ns[0] + i))
    expect(ns[ns.length - 1]).toBe(n - 1)

    // The child's re-logs are in replayer-owned segments.
    const relogs = retryRecords(log).filter((r) => r.obj.attempt === 2)
    expect(relogs.length).toBe(res.summary!.requeued)
    expect(new Set(relogs.map((r) => r.file)).size).toBeGreaterThan(0)
    for (const r of relogs) expect(r.file).toMatch(/^orders\.r\d{12}\.log$/)
    expect(replayerSegments(log).length).toBeGreaterThan(0)

    // Every item: delivered by the child, or still in the log and delivered now, exactly once.
    const rest: number[] = []
    await dlq.replay((p) => {
      rest.push((p as { n: number }).n)
    })
    const all = [...res.delivered!, ...rest].sort((a, b) => a - b)
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i))
  })

  it('with compress: true, the segment the writer seals (and then compresses) for a child replay is replayed once, not resurrected as .gz', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = tmpDir()
      const log = path.join(dir, 'orders.log')
      const dlq = await openLogger(log, { compress: true, sealPollInterval: 20 })
      await Promise.all(Array.from({ length: 3000 }, (_, n) => dlq.log({ n, pad: 'c'.repeat(100) }, 'x')))
      const child = fork('replay-child.ts', [JSON.stringify({ log, mode: 'run', opts: { sealTimeout: SEAL_TIMEOUT } })])
      const res = await message<ChildResult>(child)
      expect(res.ok).toBe(true)
      // The writer answered the seal request (a loaded machine must not turn this into a timeout).
      expect(res.summary!.warnings).toEqual([])
      await dlq.close()
      expect(fs.readdirSync(dir).filter((f) => /^orders\.\d{12}\.log/.test(f))).toEqual([])
      const again = await replay(log, () => {})
      expect(res.summary!.delivered + again.delivered).toBe(3000)
      expect(again.delivered).toBe(0)
    }
  })

  it('when the writer does not answer, replays sealed segments only, with a warning, and leaves the active file alone', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await openLogger(log, { sealPollInterval: 0 })
    for (let i = 0; i < 5; i++) await dlq.log({ n: i }, 'sealed')
    await dlq.rotate()
    for (let i = 5; i < 8; i++) await dlq.log({ n: i }, 'active')
    const before = fs.statSync(log)
    const got: number[] = []
    const s = await replay(log, (p) => {
      got.push((p as { n: number }).n)
    }, { sealTimeout: 300 })
    expect(got).toEqual([0, 1, 2, 3, 4])
    expect(s.warnings).toHaveLength(1)
    expect(s.warnings[0]).toMatch(/did not answer the seal request/)
    const after = fs.statSync(log)
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs])
    // The unanswered request was withdrawn, so the writer will not seal for nobody later.
    expect(fs.readdirSync(dir).filter((f) => f.includes('seal'))).toEqual([])
  })

  it('with no writer alive (closed), replay(path) seals the active file itself', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log, { sealPollInterval: 0 })
    for (let i = 0; i < 10; i++) await dlq.log({ n: i }, 'x')
    await dlq.close()
    expect(fs.statSync(log).size).toBeGreaterThan(0)
    const got: number[] = []
    const s = await replay(log, (p) => {
      got.push((p as { n: number }).n)
    }, { sealTimeout: 60_000 })
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i))
    expect(s.warnings).toEqual([])
    expect(fs.existsSync(log)).toBe(false)
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([])
  })

  it('with the writer killed (stale lock), replay(path) seals the active file itself and a new writer can open after', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const child = fork('replay-writer.ts', [log, '200', JSON.stringify({ sealPollInterval: 0 })])
    await message(child, (m: { logged?: number }) => m.logged === 200)
    child.kill('SIGKILL')
    await exited(child)
    const got: number[] = []
    // A long sealTimeout: if replay wrongly waited for the dead writer, the test would time out.
    const s = await replay(log, (p) => {
      got.push((p as { n: number }).n)
    }, { sealTimeout: 120_000 })
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i))
    expect(s.warnings).toEqual([])
    const dlq = await openLogger(log, { sealPollInterval: 0 })
    await dlq.log({ n: 1 }, 'after')
  })
})

describe('dlq.startReplayer', () => {
  it('delivers items logged after it started; its stop function resolves and no run follows', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLogger(log, { sealPollInterval: 0 })
    const got: number[] = []
    const runs: ReplaySummary[] = []
    const stop = dlq.startReplayer(
      (p) => {
        got.push((p as { n: number }).n)
      },
      { interval: 20, onRun: (s) => runs.push(s) },
    )
    for (let i = 0; i < 10; i++) {
      await dlq.log({ n: i }, 'later')
      await sleep(7)
    }
    await until(() => got.length >= 10, 10_000, 'background deliveries')
    await stop()
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i))
    expect(runs.length).toBeGreaterThanOrEqual(1)
    const runsAtStop = runs.length
    await dlq.log({ n: 99 }, 'after stop')
    await sleep(150)
    expect(got).not.toContain(99)
    expect(runs.length).toBe(runsAtStop)
  })

  it('stop() aborts a run in progress, waits for the in-flight item, and the rest stays for the next replay', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLogger(log, { sealPollInterval: 0 })
    for (let i = 0; i < 5; i++) await dlq.log({ n: i }, 'x')
    const gate = deferred()
    const reached = deferred()
    const got: number[] = []
    const stop = dlq.startReplayer(
      async (p) => {
        reached.resolve()
        await gate.promise
        got.push((p as { n: number }).n)
      },
      { interval: 10 },
    )
    await reached.promise
    let stopped = false
    const stopping = stop().then(() => (stopped = true))
    await sleep(50)
    expect(stopped).toBe(false)
    gate.resolve()
    await stopping
    expect(got).toEqual([0])
    const rest: number[] = []
    await dlq.replay((p) => {
      rest.push((p as { n: number }).n)
    })
    expect(rest).toEqual([1, 2, 3, 4])
  })
})
