/**
 * A run takes what was due when it started. An entry it re-queues — even with no backoff at
 * all — is the next run's: one handler call per entry per run, on a local log and on the
 * central store alike, not a spin through every attempt inside one run.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, replay } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { seed, useCluster } from './setup.js'

const pg = useCluster()
const N = 5
const opts = { initialWait: 0, maxWait: 0, maxAttempts: 4 }

describe('a re-queued entry waits for the next run', () => {
  it('local and central: initialWait 0, a failing handler is called once per entry per run', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'local.log')
    const dlq = await Logger.open(log)
    for (let i = 0; i < N; i++) await dlq.log({ n: i }, 'boom')
    await dlq.close()
    const store = await pg.store()
    await seed(store, dir, N)

    for (let run = 1; run <= 2; run++) {
      let local = 0
      let central = 0
      const l = await replay(log, () => {
        local++
        throw new Error('still down')
      }, opts)
      const c = await store.replay(() => {
        central++
        throw new Error('still down')
      }, opts)
      expect({ local, central }).toEqual({ local: N, central: N })
      expect(l).toMatchObject({ requeued: N, permanent: 0 })
      expect(c).toMatchObject({ requeued: N, permanent: 0 })
    }
    const entries = []
    for await (const e of store.inspect()) entries.push(e)
    expect(entries.map((e) => e.attempt)).toEqual(Array(N).fill(3))
    await store.close()
  })
})
