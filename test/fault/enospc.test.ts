/**
 * A real full disk (a 2 MiB tmpfs filled to the last page): log() must reject with ENOSPC,
 * leave no partial line behind and resume on the same logger once space is freed; a replay
 * whose re-logs hit ENOSPC must reject with ENOSPC without checkpointing past the item whose
 * re-log was not written, so that a later replay accounts for every item.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, replay, type DeadLetterError } from '../../src/index.js'
import { readCheckpoint } from '../../src/store/checkpoint.js'
import { listSegments, logPaths, statePathOf } from '../../src/store/segments.js'
import { budget, count, report, SEED } from './helpers/config.js'
import { familyLines, linesOfFile } from './helpers/logfiles.js'
import { fillDisk, freeBytes, mountRefused, mountTmpfs } from './helpers/mount.js'
import { Rng } from '../helpers/rng.js'

const ROUNDS = count('DLQ_SOAK_ENOSPC_ROUNDS', 8, 100)

function systemCode(err: unknown): string | undefined {
  const e = err as DeadLetterError & { cause?: { code?: string } }
  return e?.systemCode ?? e?.cause?.code
}

/** Every line of every file of the log parses as JSON (fillers, locks and states aside). */
function checkAllLinesParse(dir: string): void {
  for (const f of fs.readdirSync(dir)) {
    if (f.startsWith('filler') || f.startsWith('.') || f.endsWith('.state')) continue
    for (const l of linesOfFile(path.join(dir, f))) {
      expect(() => JSON.parse(l.text), `${f}: ${l.text.slice(0, 100)}`).not.toThrow()
    }
  }
}

const totals = { logRejected: 0, logResolved: 0, replayRejected: 0, rounds: 0 }

describe.skipIf(mountRefused !== undefined)(`ENOSPC on a real full disk (tmpfs)${mountRefused ? ` — SKIPPED: ${mountRefused}` : ''}`, () => {
  for (const durability of ['kernel', 'fsync'] as const) {
    it(
      `log() rejects with systemCode ENOSPC, leaves no partial line, and resumes once space is freed (${durability}, ${ROUNDS} fill/free rounds)`,
      async () => {
        const mnt = mountTmpfs('2m')
        const logPath = path.join(mnt, 'q.log')
        const paths = logPaths(logPath)
        const rng = new Rng(SEED + (durability === 'fsync' ? 1 : 0))
        const logger = await Logger.open(logPath, {
          durability,
          rotateSize: durability === 'fsync' ? '96K' : 0,
          maxBufferedBytes: '64K',
          sealPollInterval: 0,
        })
        const ok = new Set<string>()
        const failed = new Set<string>()
        let seq = 0
        try {
          for (let round = 0; round < ROUNDS; round++) {
            const fillers = fillDisk(mnt)
            const size = rng.pick([100, 1500, 5000, 70_000])
            const burst = rng.pick([20, 100, 300])
            const results = await Promise.allSettled(
              Array.from({ length: burst }, () => {
                const id = `r${round}-${seq++}`
                return logger.log({ pad: 'p'.repeat(size) }, 'full disk', 1, { id }).then(
                  () => id,
                  (err) => Promise.reject(Object.assign(err, { id })),
                )
              }),
            )
            let rejected = 0
            for (const r of results) {
              if (r.status === 'fulfilled') ok.add(r.value)
              else {
                rejected++
                failed.add(r.reason.id)
                expect(r.reason.code).toBe('DLQ_IO')
                expect(systemCode(r.reason), String(r.reason)).toBe('ENOSPC')
              }
            }
            // A full disk must show: the burst is far larger than any slack left in a page.
            expect(rejected).toBeGreaterThan(0)
            totals.logRejected += rejected
            checkAllLinesParse(mnt)

            for (const f of fillers) fs.unlinkSync(f)
            // Same logger, space back: logging works again.
            for (let i = 0; i < 20; i++) {
              const id = `r${round}-${seq++}`
              await logger.log({ pad: 'q'.repeat(size) }, 'space is back', 1, { id })
              ok.add(id)
            }
            // Check this round's records, then remove them so the log itself does not fill the disk.
            await logger.rotate()
            const seen = new Map<string, number>()
            for (const l of await familyLines(paths.retry)) {
              expect(l.env, `unparsable line in ${l.file}: ${l.text.slice(0, 100)}`).toBeDefined()
              seen.set(l.env!.id!, (seen.get(l.env!.id!) ?? 0) + 1)
            }
            for (const id of ok) expect(seen.get(id), `acknowledged ${id}`).toBe(1)
            for (const id of failed) expect(seen.has(id), `rejected ${id} is on disk`).toBe(false)
            for (const seg of await listSegments(paths.retry)) fs.unlinkSync(seg.path)
            totals.logResolved += ok.size
            ok.clear()
            failed.clear()
          }
        } finally {
          await logger.close()
        }
        totals.rounds += ROUNDS
      },
      budget(60_000),
    )
  }

  it(
    `a replay whose re-logs hit ENOSPC rejects with ENOSPC, never checkpoints past the unwritten item, and a later replay accounts for every item (${ROUNDS} rounds)`,
    async () => {
      const rng = new Rng(SEED + 7)
      const stages: Record<string, number> = {}
      for (let round = 0; round < ROUNDS; round++) {
        const mnt = mountTmpfs('2m')
        const logPath = path.join(mnt, 'q.log')
        const paths = logPaths(logPath)
        const logger = await Logger.open(logPath, { rotateSize: '128K', sealPollInterval: 0 })
        // Large records make a re-log need more pages than a state file, so the re-log write
        // is what fails; small ones let the lock or a checkpoint hit the full disk first.
        const big = round % 2 === 0
        const N = big ? 60 : 300
        const ids: string[] = []
        for (let i = 0; i < N; i++) ids.push(`i${i}`)
        await Promise.all(
          ids.map((id, i) => logger.log({ i, pad: 'x'.repeat(big ? rng.int(6000, 20_000) : rng.int(200, 1500)) }, 'first', 1, { id })),
        )
        await logger.close()

        // Leave a little room (or none): the first re-logs fit, the rest do not.
        const slack = [4096, 16 * 1024, 64 * 1024, 0][round % 4]
        const slackFile = path.join(mnt, 'filler-slack')
        if (slack > 0) fs.writeFileSync(slackFile, Buffer.alloc(slack))
        const fillers = fillDisk(mnt)
        if (slack > 0) fs.unlinkSync(slackFile)
        expect(freeBytes(mnt)).toBeLessThanOrEqual(slack + 4096)

        const concurrency = rng.pick([1, 4])
        const checkpointEvery = rng.pick([1, 5, 50])
        const first = await replay(
          logPath,
          () => {
            throw new Error('downstream still down')
          },
          { maxAttempts: 10, initialWait: 0, maxWait: 0, concurrency, checkpointEvery, checkpointInterval: '1h' },
        ).then(
          () => undefined,
          (err: unknown) => err,
        )
        expect(first, 'the replay should have failed on the full disk').toBeDefined()
        expect(systemCode(first), String(first)).toBe('ENOSPC')
        totals.replayRejected++
        const stage = /create lock/.test(String(first)) ? 'lock' : /checkpoint/.test(String(first)) ? 'checkpoint' : /\.r\d+\.log/.test(String(first)) ? 'relog' : 'other'
        stages[stage] = (stages[stage] ?? 0) + 1

        // Every item the checkpoints cover has its re-log, complete, in a replayer segment.
        const relogged = new Set((await familyLines(paths.retry, { active: false })).filter((l) => l.file.includes('.r')).map((l) => l.env?.id))
        for (const seg of await listSegments(paths.retry)) {
          if (seg.owner !== 'writer') continue
          const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
          if (cp.status !== 'ok') continue
          let offset = 0
          for (const text of fs.readFileSync(seg.path, 'utf8').split('\n')) {
            if (offset >= cp.checkpoint.offset || text.length === 0) break
            const id = JSON.parse(text).id as string
            expect(relogged.has(id), `${id} is behind the checkpoint of ${path.basename(seg.path)} but its re-log is missing`).toBe(true)
            offset += Buffer.byteLength(text) + 1
          }
        }

        for (const f of fillers) fs.unlinkSync(f)
        const delivered = new Set<string>()
        const second = await replay(logPath, (_p, env) => void delivered.add(env.id!), { maxAttempts: 10, initialWait: 0, maxWait: 0 })
        expect(second.corrupt).toBe(0)
        for (const id of ids) expect(delivered.has(id), `${id} lost after ENOSPC during replay (round ${round}, slack ${slack})`).toBe(true)
        checkAllLinesParse(mnt)
        expect(await listSegments(paths.retry)).toEqual([])
      }
      // The point of the test: some of the failures must be re-logs that did not fit.
      if (ROUNDS >= 4) expect(stages.relog ?? 0, JSON.stringify(stages)).toBeGreaterThan(0)
      totals.rounds += ROUNDS
      report('enospc', { ...totals, ...Object.fromEntries(Object.entries(stages).map(([k, v]) => [`replayFailedAt_${k}`, v])) })
    },
    budget(60_000),
  )
})
