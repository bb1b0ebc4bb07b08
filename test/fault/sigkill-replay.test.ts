/**
 * SIGKILL during replay: a child replays the log (delivering, requeueing, sending items to the
 * permanent log) and is killed at random points, then restarted, until the log drains. No
 * item may be lost, and the duplicates a kill causes are bounded by the checkpoint window.
 *
 * The window, from src/replay/: the checkpoint covers the prefix of items that are done, it
 * is written once that prefix has grown by `checkpointEvery` items, and at most `concurrency`
 * items are read past that prefix. A kill therefore redoes at most
 * checkpointEvery + concurrency − 1 items that had already reached the handler (or been
 * re-logged). Each redone item is delivered, or re-logged, or made permanent once more.
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { listSegments, logPaths } from '../../src/store/segments.js'
import { tmpDir } from '../helpers/tmp.js'
import { expectedHome } from './helpers/classes.js'
import { budget, count, report, SEED } from './helpers/config.js'
import { exited, forkFault, sleep, waitMessage } from './helpers/fork.js'
import { familyLines } from './helpers/logfiles.js'
import { Rng } from '../helpers/rng.js'

const KILLS = count('DLQ_SOAK_REPLAY_KILLS', 20, 500)

function countsOf(values: number[]): Map<number, number> {
  const m = new Map<number, number>()
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1)
  return m
}

function extra(m: Map<number, number>): number {
  let n = 0
  for (const c of m.values()) n += c - 1
  return n
}

it(
  `replay killed ${KILLS} times loses nothing; duplicates stay within checkpointEvery + concurrency − 1 per kill`,
  async () => {
    const dir = tmpDir('dlq-fault-replay-')
    const logPath = path.join(dir, 'items.log')
    const side = path.join(dir, 'delivered.txt')
    const paths = logPaths(logPath)
    const rng = new Rng(SEED)

    const delivered = () =>
      fs.existsSync(side)
        ? fs
            .readFileSync(side, 'utf8')
            .split('\n')
            .filter((l) => l.length > 0)
            .map(Number)
        : []
    const permanentIds = async () => (await familyLines(paths.permanent)).map((l) => (l.env!.payload as { n: number }).n)
    const duplicates = async () => extra(countsOf(delivered())) + extra(countsOf(await permanentIds()))

    let next = 0
    let boundSum = 0
    let kills = 0
    let drainedEarly = 0
    let maxSurfaced = 0
    let prevDup = 0
    const addItems = async (n: number) => {
      const logger = await Logger.open(logPath, { rotateSize: '16K', compress: rng.chance(0.3), sealPollInterval: 0 })
      const ps: Promise<void>[] = []
      for (let i = 0; i < n; i++, next++) ps.push(logger.log({ n: next, text: 'x'.repeat(next % 200) }, 'first failure', 1, { id: `i${next}` }))
      await Promise.all(ps)
      await logger.close()
    }

    while (kills < KILLS) {
      await addItems(rng.int(100, 400))
      const concurrency = rng.pick([1, 1, 2, 4, 8])
      const every = rng.pick([1, 3, 10, 25])
      const slowEvery = concurrency > 1 ? 17 : 0
      const child = forkFault('replay-child.ts', [logPath, side, String(concurrency), String(every), String(slowEvery)])
      await waitMessage(child, (m) => m.type === 'ready', 20_000)
      await sleep(rng.int(0, 400))
      child.kill('SIGKILL')
      const ex = await exited(child)
      if (ex.signal === 'SIGKILL') {
        kills++
        boundSum += every + concurrency - 1
      } else {
        expect(ex.code, child.stderrText()).toBe(0)
        drainedEarly++
      }
      const d = await duplicates()
      maxSurfaced = Math.max(maxSurfaced, d - prevDup)
      prevDup = d
    }

    // Let the last run drain everything.
    const last = forkFault('replay-child.ts', [logPath, side, '2', '10', '0'])
    await waitMessage(last, (m) => m.type === 'drained', 120_000)
    expect((await exited(last)).code, last.stderrText()).toBe(0)

    const del = countsOf(delivered())
    const perm = countsOf(await permanentIds())
    let lost = 0
    for (let n = 0; n < next; n++) {
      const home = expectedHome(n)
      if (home === 'delivered') {
        if (!del.has(n)) lost++
        expect(del.has(n), `item ${n} was not delivered`).toBe(true)
        expect(perm.has(n), `item ${n} should not be permanent`).toBe(false)
      } else {
        if (!perm.has(n)) lost++
        expect(perm.has(n), `item ${n} is not in the permanent log`).toBe(true)
        expect(del.has(n), `item ${n} should not have been delivered`).toBe(false)
      }
    }
    expect(lost).toBe(0)
    // Drained: no retry records left anywhere, nothing quarantined (the replayer cuts its own torn tails).
    expect((await familyLines(paths.retry)).length).toBe(0)
    expect(await listSegments(paths.retry)).toEqual([])
    const corrupt = fs.existsSync(paths.corrupt) ? fs.readFileSync(paths.corrupt, 'utf8') : ''
    expect(corrupt).toBe('')
    for (const l of await familyLines(paths.permanent)) expect(l.env, `unparsable permanent line ${l.text}`).toBeDefined()

    const dups = extra(del) + extra(perm)
    expect(dups, `duplicates ${dups} over ${kills} kills, bound ${boundSum}`).toBeLessThanOrEqual(boundSum)
    report('sigkill-replay', { kills, drainedEarly, items: next, lost, duplicates: dups, bound: boundSum, maxSurfacedBetweenKills: maxSurfaced })
  },
  budget(120_000),
)
