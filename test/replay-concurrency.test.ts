/**
 * concurrency > 1: exactly-once in a clean run, and a checkpoint that only ever covers the
 * contiguous prefix of finished items whose outputs are already on disk.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { replay } from '../src/index.js'
import { decodeCheckpoint } from '../src/store/checkpoint.js'
import { tmpDir } from './helpers/tmp.js'
import { deferred, envLine, lineOffsets, permanentRecords, prng, retryRecords, until, writeSegment } from './fixtures/replay-util.js'

const SEG = 'orders.000000000001.log'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('concurrency > 1', () => {
  for (const concurrency of [2, 4, 8]) {
    it(`with random handler latency delivers every item exactly once (concurrency ${concurrency})`, async () => {
      const log = path.join(tmpDir(), 'orders.log')
      writeSegment(log, 1, Array.from({ length: 150 }, (_, i) => envLine({ id: `i${i}`, payload: i })), { mtime: 1000 })
      writeSegment(log, 2, Array.from({ length: 150 }, (_, i) => envLine({ id: `i${150 + i}`, payload: 150 + i })), { gz: true, mtime: 2000 })
      const rand = prng(concurrency)
      const counts = new Map<number, number>()
      const startOrder: number[] = []
      let inFlight = 0
      let maxInFlight = 0
      const s = await replay(
        log,
        async (p) => {
          const n = p as number
          startOrder.push(n)
          inFlight++
          maxInFlight = Math.max(maxInFlight, inFlight)
          await sleep(Math.floor(rand() * 4))
          inFlight--
          counts.set(n, (counts.get(n) ?? 0) + 1)
          if (n % 10 === 3) throw new Error('requeue me')
        },
        { concurrency, checkpointEvery: 7 },
      )
      expect(counts.size).toBe(300)
      expect([...counts.values()].every((c) => c === 1)).toBe(true)
      // Items are taken in log order, whatever order they finish in.
      expect(startOrder).toEqual(Array.from({ length: 300 }, (_, i) => i))
      expect(maxInFlight).toBeLessThanOrEqual(concurrency)
      expect(maxInFlight).toBeGreaterThan(1)
      expect(s).toMatchObject({ handled: 300, delivered: 270, requeued: 30, segmentsRemoved: 2 })
      expect(retryRecords(log).map((r) => r.obj.payload)).toEqual(Array.from({ length: 30 }, (_, i) => i * 10 + 3))
    })
  }

  it('the checkpoint never passes a slow item, and reading stops `concurrency` items past it', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lines = Array.from({ length: 40 }, (_, i) => envLine({ payload: i }))
    const offsets = lineOffsets(lines)
    writeSegment(log, 1, lines)
    const state = path.join(path.dirname(log), `${SEG}.state`)
    const gate = deferred()
    const finished = new Set<number>()
    const started: number[] = []
    const concurrency = 4
    const run = replay(
      log,
      async (p) => {
        const n = p as number
        started.push(n)
        if (n === 3) await gate.promise
        else await sleep(1)
        finished.add(n)
      },
      { concurrency, checkpointEvery: 1, checkpointInterval: 0 },
    )
    // Everything the window allows past item 3 finishes while 3 is stuck.
    await until(() => [4, 5, 6].every((n) => finished.has(n)), 10_000, 'items after the slow one')
    // The checkpoint over items 0-2 is written after they finished, on its own schedule: wait
    // for it to reach item 3 (or pass it, which the assertion below rejects) instead of a sleep.
    const readCp = () => {
      try {
        return decodeCheckpoint(fs.readFileSync(state), SEG)
      } catch {
        return undefined
      }
    }
    await until(() => { const c = readCp(); return c?.status === 'ok' && c.checkpoint.items >= 3 }, 10_000, 'the checkpoint over items 0-2')
    // Items 0-2 and 4-6 are done, 3 is not: the checkpoint is exactly at item 3.
    expect(readCp()).toMatchObject({ status: 'ok', checkpoint: { offset: offsets[3], items: 3 } })
    expect(Math.max(...started)).toBe(3 + concurrency - 1)
    gate.resolve()
    const s = await run
    expect(s.delivered).toBe(40)
    expect(fs.existsSync(state)).toBe(false)
  })

  it('every checkpoint observed mid-run covers only items whose re-logs are already on disk, within the recorded output sizes', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const n = 400
    const lines = Array.from({ length: n }, (_, i) => envLine({ id: `i${i}`, payload: i }))
    const offsets = lineOffsets(lines)
    writeSegment(log, 1, lines)
    const state = path.join(dir, `${SEG}.state`)
    const rand = prng(99)
    let checks = 0
    const violations: string[] = []
    const inspect = () => {
      let text: Buffer
      try {
        text = fs.readFileSync(state)
      } catch {
        return
      }
      const cp = decodeCheckpoint(text, SEG)
      if (cp.status !== 'ok') {
        violations.push(`state unreadable: ${cp.status}`)
        return
      }
      const covered = offsets.filter((o) => o < cp.checkpoint.offset).length
      // What a crash right now would keep: each output cut back to its recorded size.
      const kept = new Set<string>()
      for (const m of cp.checkpoint.outputs ?? []) {
        const buf = fs.readFileSync(path.join(dir, m.file))
        if (buf.length < m.size) violations.push(`${m.file} is ${buf.length} bytes, checkpoint says ${m.size}`)
        for (const l of buf.subarray(0, m.size).toString('utf8').split('\n')) if (l) kept.add(String((JSON.parse(l) as { id: string }).id))
      }
      for (let i = 0; i < covered; i++) {
        // Every item fails here, so each covered item must have a surviving re-log or permanent record.
        if (!kept.has(`i${i}`)) violations.push(`item ${i} covered by checkpoint at ${cp.checkpoint.offset} but its re-log is not kept`)
      }
      checks++
    }
    const s = await replay(
      log,
      async (p) => {
        inspect()
        // Finish in a scrambled order, some during the checkpoint's own fsync.
        const r = rand()
        if (r < 0.3) await new Promise((res) => setImmediate(res))
        else if (r < 0.6) await sleep(Math.floor(r * 3))
        throw new Error(`fail ${String(p)}`)
      },
      { concurrency: 6, checkpointEvery: 1, initialWait: 0, maxWait: 0 },
    )
    expect(s.requeued).toBe(n)
    expect(checks).toBeGreaterThan(n / 2)
    expect(violations).toEqual([])
    expect(retryRecords(log)).toHaveLength(n)
    expect(permanentRecords(log)).toHaveLength(0)
  })
})
