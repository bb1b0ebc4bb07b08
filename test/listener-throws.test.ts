/**
 * Issue 17 §3: a listener or callback of the application that throws never changes what
 * happens to data and never crashes the process; it is reported as a warning instead. One
 * case per event and callback the library calls: 'rotated' (rotate(), size and interval
 * rotation), 'evicted', 'warning', 'error', the replay outcome and 'progress' events, onRun,
 * and the admin functions' onProgress.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type DeadLetterError, Logger, type LoggerLike, type LoggerOptions, requeue, stats } from '../src/index.js'
import { logPaths } from '../src/store/segments.js'
import { tmpDir } from './helpers/tmp.js'

const open: Logger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => {})
})

const boom = () => {
  throw new Error('listener bug')
}

async function until(cond: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A logger whose warnings (events and injected logger) are collected. */
async function openLog(options: LoggerOptions = {}, name = 'q.log'): Promise<{ dlq: Logger; dir: string; warnings: string[]; logged: string[] }> {
  const dir = tmpDir()
  const logged: string[] = []
  const logger: LoggerLike = { info: () => {}, warn: (_o, m) => logged.push(String(m)), error: (_o, m) => logged.push(String(m)) }
  const dlq = await Logger.open(path.join(dir, name), { sealPollInterval: 0, logger, ...options })
  open.push(dlq)
  const warnings: string[] = []
  dlq.on('warning', (w) => warnings.push(w.message))
  return { dlq, dir, warnings, logged }
}

const retryFiles = (dir: string) => fs.readdirSync(dir).filter((n) => /^q(\.\d{12}\.log(\.gz)?|\.log)$/.test(n))
const sealedPlain = (dir: string) => fs.readdirSync(dir).filter((n) => /^q\.\d{12}\.log$/.test(n))
const sealedGz = (dir: string) => fs.readdirSync(dir).filter((n) => /^q\.\d{12}\.log\.gz$/.test(n))
const threw = (event: string) => (w: string) => w.includes(`a listener of '${event}' threw`)

describe("a 'rotated' listener that throws", () => {
  it('rotate() still resolves to the sealed path, and the segment is still compressed', async () => {
    const { dlq, dir, warnings } = await openLog({ compress: true })
    dlq.on('rotated', boom)
    for (let i = 0; i < 10; i++) await dlq.log({ i }, 'x')
    const sealed = await dlq.rotate()
    expect(sealed).toMatch(/q\.\d{12}\.log$/)
    await dlq.close()
    expect(sealedGz(dir)).toEqual([`${path.basename(sealed!)}.gz`])
    expect(sealedPlain(dir)).toEqual([])
    expect(warnings.filter(threw('rotated'))).toHaveLength(1)
  })

  it('the sealed bytes still count against maxRetryBytes: the cap is never exceeded', async () => {
    const cap = 8192
    const { dlq, dir } = await openLog({ maxRetryBytes: cap })
    dlq.on('rotated', boom)
    const pad = 'x'.repeat(250)
    for (let i = 0; i < 20; i++) await dlq.log({ i, pad }, 'x')
    await dlq.rotate()
    let full = 0
    for (let i = 20; i < 60; i++) {
      await dlq.log({ i, pad }, 'x').catch((err: DeadLetterError) => {
        expect(err.code).toBe('DLQ_FULL')
        full++
      })
    }
    await dlq.flush()
    expect(full).toBeGreaterThan(0)
    const bytes = retryFiles(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
    expect(bytes).toBeLessThanOrEqual(cap)
  })

  it('size rotation goes on, and every sealed segment is compressed', async () => {
    const { dlq, dir, warnings } = await openLog({ compress: true, rotateSize: '1K' })
    dlq.on('rotated', boom)
    for (let i = 0; i < 40; i++) await dlq.log({ i, pad: 'y'.repeat(80) }, 'x')
    await dlq.close()
    expect(sealedGz(dir).length).toBeGreaterThan(1)
    expect(sealedPlain(dir)).toEqual([])
    expect(warnings.filter((w) => /size rotation/.test(w))).toEqual([])
    expect(warnings.some(threw('rotated'))).toBe(true)
  })

  it('interval rotation goes on (the throw does not escape the timer), and the segment is compressed', async () => {
    const { dlq, dir, warnings } = await openLog({ compress: true, rotateInterval: '1s' })
    let calls = 0
    dlq.on('rotated', () => {
      calls++
      throw new Error('listener bug')
    })
    await dlq.log({ i: 0 }, 'x')
    await until(() => sealedGz(dir).length > 0, 'a compressed interval-sealed segment')
    await dlq.log({ i: 1 }, 'x')
    await until(() => sealedGz(dir).length > 1, 'a second one')
    expect(calls).toBeGreaterThanOrEqual(2)
    expect(warnings.some(threw('rotated'))).toBe(true)
  })
})

describe("an 'evicted' listener that throws", () => {
  it('log() still resolves after making room (drop-oldest), and the record is written', async () => {
    const { dlq, dir, warnings } = await openLog({ maxRetryBytes: 4096, onFull: 'drop-oldest' })
    let evictions = 0
    dlq.on('evicted', () => {
      evictions++
      throw new Error('listener bug')
    })
    const pad = 'z'.repeat(300)
    for (let i = 0; i < 10; i++) await dlq.log({ i, pad }, 'x')
    await dlq.rotate()
    for (let i = 10; i < 20; i++) await dlq.log({ i, pad }, 'x')
    await dlq.flush()
    expect(evictions).toBeGreaterThan(0)
    expect(fs.readFileSync(path.join(dir, 'q.log'), 'utf8')).toContain('"i":19')
    expect(warnings.some(threw('evicted'))).toBe(true)
  })
})

describe("a 'warning' listener that throws", () => {
  it('is reported to the injected logger only; the warning that triggered it still did its job', async () => {
    const { dlq, logged } = await openLog({ sealPollInterval: 20 })
    const seen: string[] = []
    dlq.on('warning', (w) => {
      seen.push(w.message)
      throw new Error('listener bug')
    })
    // The ownership watch finds its lock deleted, re-creates it and warns.
    fs.rmSync(dlq.paths.writerLock)
    await until(() => seen.some((m) => /writer lock .* re-created it/.test(m)), 'the re-created-lock warning')
    expect(fs.existsSync(dlq.paths.writerLock)).toBe(true)
    await until(() => logged.some(threw('warning')), "the logger's report of the throwing listener")
    await dlq.log({ i: 1 }, 'x')
    await dlq.flush()
  })
})

describe("an 'error' listener that throws", () => {
  it('is reported as a warning; the lost lock still stops the logger', async () => {
    const { dlq, warnings } = await openLog({ sealPollInterval: 20 })
    const errors: string[] = []
    dlq.on('error', (e) => {
      errors.push((e as DeadLetterError).code)
      throw new Error('listener bug')
    })
    // Another host's writer now holds the lock (a shared volume): ours is lost.
    const other = { pid: 1, host: `not-${os.hostname()}`, token: 'other', since: Date.now(), kind: 'writer' }
    fs.writeFileSync(dlq.paths.writerLock, JSON.stringify(other) + '\n')
    await until(() => errors.length > 0, "the 'error' event")
    expect(errors).toEqual(['DLQ_LOCK_LOST'])
    await until(() => warnings.some(threw('error')), 'the warning about the throwing listener')
    await expect(dlq.log({ i: 1 }, 'x')).rejects.toMatchObject({ code: 'DLQ_LOCK_LOST' })
  })
})

describe('replay listeners that throw', () => {
  it("a throwing 'delivered' and 'progress' listener: every item delivered once, nothing redelivered, one warning each", async () => {
    const { dlq } = await openLog()
    for (let i = 0; i < 50; i++) await dlq.log({ i }, 'x')
    dlq.on('delivered', boom)
    dlq.on('progress', boom)
    const delivered: number[] = []
    const s = await dlq.replay((p: { i: number }) => {
      delivered.push(p.i)
    })
    expect(s.delivered).toBe(50)
    expect(delivered.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    // The first throw is reported with its message; the other 49 are counted, not repeated.
    expect(s.warnings.filter(threw('delivered')), s.warnings.join('\n')).toEqual([
      "a listener of 'delivered' threw; ignored (listener bug)",
      "a listener of 'delivered' threw; ignored (49 more like it suppressed)",
    ])
    expect(s.warnings.some(threw('progress'))).toBe(true)
    const again = await dlq.replay(() => {
      throw new Error('must not run: everything was delivered')
    })
    expect(again.handled).toBe(0)
  })

  it('an onRun callback that throws is a warning, not a failed run, and the loop goes on', async () => {
    const { dlq, warnings } = await openLog()
    const errors: Error[] = []
    dlq.on('error', (e) => errors.push(e))
    await dlq.log({ i: 0 }, 'x')
    let runs = 0
    const stop = dlq.startReplayer(() => {}, {
      interval: 20,
      onRun: () => {
        runs++
        throw new Error('callback bug')
      },
    })
    try {
      await until(() => runs >= 2, 'two runs')
    } finally {
      await stop()
    }
    expect(errors).toEqual([])
    expect(warnings.some((w) => w.includes('the onRun callback threw'))).toBe(true)
  })
})

describe('admin onProgress callbacks that throw', () => {
  async function permanentLog(n: number): Promise<string> {
    const logPath = path.join(tmpDir(), 'q.log')
    const dlq = await Logger.open(logPath, { sealPollInterval: 0 })
    for (let i = 0; i < n; i++) await dlq.logPermanent({ i }, 'gave up')
    await dlq.close()
    return logPath
  }

  it('stats() still resolves with its counts, the throw among its warnings', async () => {
    const logPath = await permanentLog(5)
    const s = await stats(logPath, { onProgress: boom })
    expect(s.permanent.count).toBe(5)
    expect(s.warnings.some((w) => w.includes('the onProgress callback threw'))).toBe(true)
  })

  it('requeue() still moves every entry, the throw among its warnings', async () => {
    const logPath = await permanentLog(5)
    const r = await requeue(logPath, { onProgress: boom })
    expect(r.count).toBe(5)
    expect(r.warnings.some((w) => w.includes('the onProgress callback threw'))).toBe(true)
    const after = await stats(logPath)
    expect(after.permanent.count).toBe(0)
    expect(after.retry.count).toBe(5)
    expect(fs.readdirSync(logPaths(logPath).dir).some((n) => n.includes('journal'))).toBe(false)
  })
})
