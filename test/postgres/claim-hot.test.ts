/**
 * A claim changes only the lease columns, so it should be a HOT update: no new index entries,
 * little WAL. It is one only when the new row version fits on its page, and a claim takes
 * every row of a page at once (migration 8 leaves half of each page free for that). Counted
 * by the server for the claiming transaction itself, for small and large payloads.
 */
import { describe, expect, it } from 'vitest'
import { claimStatement, PIN_PLANS } from '../../src/postgres/claim.js'
import { tablesFor } from '../../src/postgres/schema.js'
import { useCluster, useAdmin } from './setup.js'

const cluster = useCluster()
const admin = useAdmin(cluster)

describe('claims are HOT updates', () => {
  for (const bytes of [120, 1000]) {
    it(`${bytes} B payloads: all 500 rows of a claim are updated in place`, async () => {
      const schema = `claim_hot_${bytes}`
      await cluster.store({ schema })
      const t = tablesFor(schema)
      await admin.query(
        `INSERT INTO ${t.entries} (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, ts, due_ts, payload, shipped_at, updated_at)
         SELECT gen_random_uuid(), 'h', 'l', 's', i, 'retry', 1, 'upstream timeout', 'upstream timeout', i, 0,
                jsonb_build_object('id', 'ord-' || i, 'note', repeat('x', $1::int)), 0, 0
         FROM generate_series(1, 2000) AS i`,
        [bytes],
      )
      await admin.query('BEGIN')
      try {
        await admin.query(PIN_PLANS)
        const { text, params } = claimStatement(t, 'w', 500, 60_000, {})
        expect((await admin.query(text, params)).rowCount).toBe(500)
        const r = await admin.query(
          `SELECT pg_stat_get_xact_tuples_updated($1::regclass)::int AS updated, pg_stat_get_xact_tuples_hot_updated($1::regclass)::int AS hot`,
          [t.entries],
        )
        expect(r.rows[0]).toEqual({ updated: 500, hot: 500 })
      } finally {
        await admin.query('ROLLBACK')
      }
    })
  }
})
