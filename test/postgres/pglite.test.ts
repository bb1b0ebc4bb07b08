/**
 * The embedded default of the demo: the same store over an in-process PGlite instance
 * (no server). One pass over ship, stats, replay and redrive; the real-server files cover
 * the guarantees in depth.
 */
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { PostgresStore, type PGliteLike } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries } from './setup.js'

describe('PGlite (in-process PostgreSQL)', () => {
  it('ships, groups, replays and redrives', async () => {
    const db = new PGlite()
    try {
      const store = await PostgresStore.connect(db as unknown as PGliteLike, { host: 'embedded' })
      const logPath = path.join(tmpDir(), 'e.log')
      const dlq = await Logger.open(logPath)
      for (let i = 0; i < 10; i++) await dlq.log({ i }, `timeout ${i}`)
      await dlq.logPermanent({ i: 10 }, 'bad')
      await dlq.close()
      expect(await store.ship(logPath)).toMatchObject({ shipped: 11 })
      const s = await store.stats()
      expect([...s.retry.reasons, ...s.permanent.reasons].map((g) => [g.fingerprint, g.count])).toEqual([
        ['timeout <n>', 10],
        ['bad', 1],
      ])
      expect(await store.replay(() => {}, { concurrency: 3 })).toMatchObject({ delivered: 10 })
      expect(await store.requeue({ reason: 'bad', resetAttempts: true })).toMatchObject({ count: 1 })
      expect(await store.replay(() => {})).toMatchObject({ delivered: 1 })
      expect(await allEntries(store)).toEqual([])
      await store.close()
    } finally {
      await db.close()
    }
  })
})
