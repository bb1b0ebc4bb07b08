/**
 * A writer process (Logger, holding the writer lock) and a cron-style replayer process
 * (replay(path, …) in a loop) work on one log at the same time. After both stop and a final
 * replay drains the log, every item was delivered at least once or sits in the permanent
 * log, and no line anywhere is glued to another (no file was appended by two processes).
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { PermanentError, replay } from '../../src/index.js'
import { listSegments, logPaths } from '../../src/store/segments.js'
import { tmpDir } from '../helpers/tmp.js'
import { wrClass } from './helpers/classes.js'
import { budget, count, report } from './helpers/config.js'
import { exited, forkFault, waitMessage } from './helpers/fork.js'
import { familyLines, linesOfFile } from './helpers/logfiles.js'

const ITEMS = count('DLQ_SOAK_WR_ITEMS', 50_000, 1_000_000)

it(
  `a live writer and a looping replayer in two processes: all ${ITEMS} items delivered or permanent, no glued lines`,
  async () => {
    const dir = tmpDir('dlq-fault-wr-')
    const logPath = path.join(dir, 'orders.log')
    const side = path.join(dir, 'delivered.txt')
    const paths = logPaths(logPath)

    const replayer = forkFault('wr-replayer.ts', [logPath, side])
    let runs = 0
    let deliveredByReplayer = 0
    const warnings = new Set<string>()
    replayer.on('message', (m: { type: string; delivered?: number; warnings?: string[] }) => {
      if (m.type !== 'run') return
      runs++
      deliveredByReplayer = m.delivered!
      for (const w of m.warnings!) warnings.add(w)
    })
    await waitMessage(replayer, (m) => m.type === 'run', 30_000)

    const writer = forkFault('wr-writer.ts', [logPath, String(ITEMS)])
    await waitMessage(writer, (m) => m.type === 'logged', budget(90_000))
    // The test means something only if the replayer really worked beside the live writer. On
    // a loaded machine the writer can log everything before a replay got to deliver: it stays
    // open (lock held, answering seal requests) until the replayer has.
    const worked = () => runs > 1 && deliveredByReplayer > 0
    if (!worked()) await waitMessage(replayer, () => worked(), budget(60_000))
    const runsWhileWriting = runs
    const deliveredWhileWriting = deliveredByReplayer
    writer.send({ type: 'close' })
    await waitMessage(writer, (m) => m.type === 'done', budget(30_000))
    expect((await exited(writer)).code, writer.stderrText()).toBe(0)

    replayer.send({ type: 'stop' })
    await waitMessage(replayer, (m) => m.type === 'stopped', 60_000)
    expect((await exited(replayer)).code, replayer.stderrText()).toBe(0)

    // The final replay (no writer alive now: it seals the active file itself), until drained.
    const finalDelivered: number[] = []
    for (let i = 0; ; i++) {
      expect(i, 'the log did not drain').toBeLessThan(10)
      const s = await replay(
        logPath,
        (p: { n: number }, env) => {
          const c = wrClass(p.n)
          if (c === 'permanent') throw new PermanentError('rejected')
          if (c === 'flaky' && env.attempt === 1) throw new Error('flaky downstream')
          finalDelivered.push(p.n)
        },
        { maxAttempts: 3, initialWait: 0, maxWait: 0 },
      )
      if (s.handled === 0) break
    }

    // Every line of every file parses: no record was glued to another.
    let lines = 0
    for (const f of fs.readdirSync(dir)) {
      if (f === 'delivered.txt' || f.startsWith('.') || f.endsWith('.state') || f.endsWith('.meta')) continue
      for (const l of linesOfFile(path.join(dir, f))) {
        lines++
        expect(l.env, `${f}: unparsable line ${l.text.slice(0, 120)}`).toBeDefined()
      }
    }
    expect(fs.existsSync(paths.corrupt) ? fs.statSync(paths.corrupt).size : 0, 'quarantined lines').toBe(0)
    expect(await listSegments(paths.retry)).toEqual([])

    const delivered = new Uint8Array(ITEMS)
    const sideText = fs.existsSync(side) ? fs.readFileSync(side, 'utf8') : ''
    for (const l of sideText.split('\n')) if (l) delivered[Number(l)] = 1
    for (const n of finalDelivered) delivered[n] = 1
    const permanent = new Uint8Array(ITEMS)
    for (const l of await familyLines(paths.permanent)) permanent[(l.env!.payload as { n: number }).n] = 1

    let lost = 0
    for (let n = 0; n < ITEMS; n++) {
      const ok = wrClass(n) === 'permanent' ? permanent[n] === 1 : delivered[n] === 1
      if (!ok) lost++
    }
    expect(lost, 'items neither delivered nor in the permanent log').toBe(0)
    // The test means something only if the replayer really worked beside the live writer.
    expect(runsWhileWriting).toBeGreaterThan(1)
    expect(deliveredWhileWriting).toBeGreaterThan(0)
    report('writer-replayer', {
      items: ITEMS,
      lost,
      replayerRuns: runs,
      runsWhileWriting,
      deliveredWhileWriting,
      deliveredAfter: finalDelivered.length,
      linesChecked: lines,
      sealTimeouts: [...warnings].filter((w) => /did not answer/.test(w)).length,
    })
  },
  budget(180_000),
)
