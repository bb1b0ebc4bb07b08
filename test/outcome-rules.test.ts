/**
 * One set of outcome rules: for an entry (attempt, age), a handler outcome (delivered, a
 * failure, a PermanentError), a policy (maxAttempts, ttl, backoff waits) and a random source,
 * a local replay and a central replay on a real PostgreSQL store end with the same kind,
 * attempt, final and wait before the entry is due again (dueTs − ts). Generated with
 * fast-check; the seed is printed (DLQ_TEST_SEED reruns one).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { type Entry, inspect, PermanentError, replay } from '../src/index.js'
import { envLine, writeLines } from './fixtures/cli-util.js'
import { collect, useCluster } from './postgres/setup.js'

const pg = useCluster()
const H = 3_600_000
const seed = Number(process.env.DLQ_TEST_SEED ?? Date.now() % 2 ** 31)
console.log(`outcome-rules seed: ${seed} (rerun with DLQ_TEST_SEED=${seed})`)

interface Case {
  attempt: number
  /** Hours since the first failure, plus half an hour: never on a ttl boundary. */
  ageHours: number
  outcome: 'ok' | 'error' | 'permanent'
  maxAttempts: number
  ttlHours: number | undefined
  initialWait: number
  maxWait: number
  random: number
}

const cases = fc.record<Case>({
  attempt: fc.integer({ min: 1, max: 6 }),
  ageHours: fc.integer({ min: 0, max: 72 }),
  outcome: fc.constantFrom('ok', 'error', 'permanent'),
  maxAttempts: fc.integer({ min: 1, max: 6 }),
  ttlHours: fc.option(fc.integer({ min: 1, max: 72 }), { nil: undefined }),
  // At least 10 s: with no wait a central run claims the re-logged entry again in the same
  // run (it runs until nothing is due), a local run leaves it for the next: that is the run's
  // loop, not the rules.
  initialWait: fc.integer({ min: 10_000, max: 60_000 }),
  maxWait: fc.integer({ min: 60_000, max: 3_600_000 }),
  random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
})

/** What became of the entry: gone (delivered), or its kind and the fields the rules set. */
function outcomeOf(entries: Entry[]): object {
  if (entries.length === 0) return { delivered: true }
  expect(entries).toHaveLength(1)
  const e = entries[0]!
  return { kind: e.kind, attempt: e.attempt, final: e.final ?? null, wait: e.dueTs === undefined ? null : e.dueTs - e.ts, reason: e.reason }
}

describe('outcome rules: local replay and central replay decide the same', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  })
  const fresh = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-outcome-rules-'))
    dirs.push(d)
    return path.join(d, 'orders.log')
  }

  it('for generated entries, failures and policies', async () => {
    const store = await pg.store()
    let n = 0
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const first = Date.now() - c.ageHours * H - H / 2
        const line = envLine({ ts: first, attempt: c.attempt, reason: 'logged', id: `e${n}`, payload: { n } })
        const handler = () => {
          if (c.outcome === 'error') throw Object.assign(new Error('upstream 503'), { code: 'E503' })
          if (c.outcome === 'permanent') throw new PermanentError('card declined')
        }
        const policy = { maxAttempts: c.maxAttempts, ttl: c.ttlHours === undefined ? undefined : c.ttlHours * H, initialWait: c.initialWait, maxWait: c.maxWait, random: () => c.random }

        const local = fresh()
        writeLines(local, [line])
        await replay(local, handler, policy)
        const localEntries = [...(await collect(inspect(local, { kind: 'retry' }))), ...(await collect(inspect(local, { kind: 'permanent' })))]

        const shipped = fresh()
        writeLines(shipped, [line])
        const logName = `case-${n++}`
        await store.ship(shipped, { logName })
        await store.replay(handler, { ...policy, logName })
        const centralEntries = [...(await collect(store.inspect({ kind: 'retry', logName }))), ...(await collect(store.inspect({ kind: 'permanent', logName })))]

        expect(outcomeOf(centralEntries), JSON.stringify(c)).toEqual(outcomeOf(localEntries))
      }),
      { seed, numRuns: 25 },
    )
  }, 300_000)
})
