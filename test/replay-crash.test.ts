/**
 * Crash test: a child process replays a 3,000-item log and is SIGKILLed at random points,
 * restarted, killed again… until the log drains, then a clean replay finishes it.
 *
 * The duplicate window: the checkpoint covers the prefix of finished items and is written once
 * that prefix has grown by `checkpointEvery`; at most `concurrency` items are read past the
 * prefix, and none while a checkpoint is being written. So at any instant at most
 * checkpointEvery + concurrency − 1 items have been taken since the last durable checkpoint,
 * and a kill redoes at most that many deliveries.
 *
 * To charge each duplicate to the kill that caused it, every restarted child is allowed at
 * least 2 × window handler calls before it is killed: by then it has re-delivered its whole
 * redo window (items are taken in order and never more than `concurrency` ahead).
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { exited, forkFixture } from './helpers/child.js'
import { corruptRecords, permanentRecords, prng, retryRecords } from './fixtures/replay-util.js'

const ITEMS = 3000
const CHECKPOINT_EVERY = 50
const CONCURRENCY = 3
const WINDOW = CHECKPOINT_EVERY + CONCURRENCY - 1
const MIN_KILLS = 20
const MAX_ATTEMPTS = 3

const fate = (n: number): 'permanent' | 'exhausted' | 'delivered' => (n % 11 === 5 ? 'permanent' : n % 7 === 3 ? 'exhausted' : 'delivered')

function readSide(file: string): number[] {
  if (!fs.existsSync(file)) return []
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map(Number)
}

interface RunResult {
  killed: boolean
  calls: number
}

it(
  `SIGKILLed at random items ≥ ${MIN_KILLS} times: nothing is lost and each kill costs ≤ checkpointEvery + concurrency − 1 = ${WINDOW} duplicate deliveries`,
  async () => {
    const dir = tmpDir('dlq-replay-crash-')
    const log = path.join(dir, 'orders.log')
    const side = path.join(dir, 'delivered.txt')
    // Several segments, most of them compressed, so kills land in plain and .gz reads alike.
    const dlq = await Logger.open(log, { rotateSize: '64KiB', compress: true, sealPollInterval: 0 })
    for (let n = 0; n < ITEMS; n++) void dlq.log({ n, pad: 'p'.repeat(n % 40) }, 'original failure', 1, { id: `n${n}` })
    await dlq.close()

    // A fresh seed each run, printed; DLQ_CRASH_SEED reruns the same kill points (timing still varies).
    const seed = Number(process.env.DLQ_CRASH_SEED) || Math.floor(Math.random() * 2 ** 31) + 1
    const rand = prng(seed)
    const cfg = JSON.stringify({ log, side, concurrency: CONCURRENCY, checkpointEvery: CHECKPOINT_EVERY, maxAttempts: MAX_ATTEMPTS })
    const runChild = async (killAfter: number | undefined): Promise<RunResult> => {
      const child = forkFixture('replay-crash-child.ts', [cfg])
      let stderr = ''
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
      let calls = 0
      let done = false
      child.on('message', (m: { c?: number; done?: boolean }) => {
        if (m.c) {
          calls++
          if (killAfter !== undefined && calls === killAfter) child.kill('SIGKILL')
        }
        if (m.done) done = true
      })
      const { code, signal } = await exited(child)
      if (signal === 'SIGKILL') return { killed: true, calls }
      expect(stderr).toBe('')
      expect(code).toBe(0)
      expect(done).toBe(true)
      return { killed: false, calls }
    }

    const dupPerKill: number[] = []
    let pendingKill = false
    let kills = 0
    const chargeDuplicates = (before: number[], after: number[]) => {
      const seen = new Set(before)
      const redelivered = after.slice(before.length).filter((n) => seen.has(n)).length
      if (pendingKill) dupPerKill.push(redelivered)
      else expect(redelivered).toBe(0)
    }

    for (;;) {
      const before = readSide(side)
      const killing = kills < MIN_KILLS + 5
      const r = await runChild(killing ? 2 * WINDOW + Math.floor(rand() * 40) : undefined)
      chargeDuplicates(before, readSide(side))
      pendingKill = r.killed
      if (r.killed) kills++
      // A run that finished without being killed ran over the whole log; stop once nothing is left.
      if (!r.killed && retryRecords(log).length === 0) break
    }
    expect(kills, `seed ${seed}`).toBeGreaterThanOrEqual(MIN_KILLS)

    // Final clean replay: nothing left to do, nothing delivered again.
    const before = readSide(side)
    const last = await runChild(undefined)
    chargeDuplicates(before, readSide(side))
    expect(last.calls).toBe(0)

    // Every item is where its fate says, at least once; nothing is anywhere it should not be.
    const delivered = readSide(side)
    const deliveredSet = new Set(delivered)
    const perm = permanentRecords(log).map((r) => r.obj as { payload: { n: number }; final: string; attempt: number })
    const permByN = new Map<number, typeof perm>()
    for (const p of perm) permByN.set(p.payload.n, [...(permByN.get(p.payload.n) ?? []), p])
    for (let n = 0; n < ITEMS; n++) {
      const f = fate(n)
      if (f === 'delivered') {
        expect(deliveredSet.has(n), `item ${n} delivered`).toBe(true)
        expect(permByN.has(n), `item ${n} not permanent`).toBe(false)
      } else {
        expect(deliveredSet.has(n), `item ${n} never delivered`).toBe(false)
        const recs = permByN.get(n) ?? []
        expect(recs.length, `item ${n} in the permanent log`).toBeGreaterThanOrEqual(1)
        for (const rec of recs) {
          expect(rec.final).toBe(f)
          expect(rec.attempt).toBe(f === 'permanent' ? 2 : MAX_ATTEMPTS)
        }
      }
    }
    expect(retryRecords(log)).toEqual([])
    expect(corruptRecords(log)).toEqual([])

    // Duplicates: every one is charged to a kill, and no kill exceeds the window.
    const totalDup = delivered.length - deliveredSet.size
    expect(dupPerKill.reduce((a, b) => a + b, 0)).toBe(totalDup)
    expect(Math.max(0, ...dupPerKill), `seed ${seed}, per kill: ${dupPerKill.join(' ')}`).toBeLessThanOrEqual(WINDOW)
    // Drained: no segment, checkpoint or temp file is left behind.
    // (The writer's empty active file stays: there was nothing to seal in it.)
    expect(fs.statSync(log).size).toBe(0)
    const leftovers = fs.readdirSync(dir).filter((f) => !/^permanent-orders\./.test(f) && f !== 'delivered.txt' && f !== 'orders.log')
    expect(leftovers).toEqual([])
    console.log(
      `[replay-crash] seed=${seed} kills=${kills} maxDupPerKill=${Math.max(0, ...dupPerKill)} window=${WINDOW} totalDup=${totalDup} permanentDup=${perm.length - permByN.size}`,
    )
  },
  // Forking and killing ~25 tsx children on 2 cores, each paying tsx start-up: under a loaded CI
  // machine that alone took ~75 s, so the budget is a liveness bound, not a speed expectation.
  240_000,
)
