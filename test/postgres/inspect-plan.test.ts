/**
 * A central listing pages along the primary key whatever the planner's statistics say. Right
 * after a large ship (no statistics yet) the planner, left free, bitmap-scanned every row of
 * the kind and sorted them for a page of 50. The server's own plans, by auto_explain, for
 * every page statement a real store.inspect() sends on a never-analyzed table.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { tablesFor } from '../../src/postgres/schema.js'
import { nodes, loggedPlans } from './plans.js'
import { collect, useCluster, useAdmin } from './setup.js'

const cluster = useCluster()
const admin = useAdmin(cluster)
const SCHEMA = 'plan_inspect'

beforeAll(async () => {
  await cluster.store({ schema: SCHEMA })
  const t = tablesFor(SCHEMA)
  await admin.query(`ALTER TABLE ${t.entries} SET (autovacuum_enabled = false)`)
  await admin.query(
    `INSERT INTO ${t.entries} (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, ts, due_ts, payload, shipped_at, updated_at)
     SELECT gen_random_uuid(), 'h' || (i % 4), 'l', 's', i, CASE WHEN i % 10 = 0 THEN 'permanent' ELSE 'retry' END, 1, 'boom', 'boom', i, 0, '{"n":1}'::jsonb, 0, 0
     FROM generate_series(1, 50000) AS i`,
  )
  const r = await admin.query(`SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, [t.entries])
  expect(Number(r.rows[0].reltuples)).toBe(-1)
}, 120_000)

describe('central listing plans', () => {
  it('every page of a listing walks the primary key: no sort, no bitmap or sequential scan, on a table never analyzed', async () => {
    const plans = await loggedPlans(admin, cluster, async () => {
      // Connected now: its sessions log every plan.
      const store = await cluster.store({ schema: SCHEMA })
      for (const o of [{ kind: 'retry' }, { kind: 'permanent' }, { kind: 'retry', order: 'newest' }, { kind: 'retry', host: 'h3' }] as const) {
        expect(await collect(store.inspect({ ...o, limit: 50 }))).toHaveLength(50)
      }
    })
    const pages = plans.filter((p) => p['Query Text'].includes(`"${SCHEMA}".entries WHERE seq`))
    expect(pages).toHaveLength(4)
    for (const p of pages) {
      const seen = nodes(p.Plan).map((n) => `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ''}`)
      expect(seen, p['Query Text']).toContain('Index Scan entries_pkey')
      expect(seen.filter((s) => /Sort|Bitmap|Seq Scan/.test(s)), p['Query Text']).toEqual([])
    }
  })
})
