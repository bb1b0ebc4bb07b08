/**
 * Central replay's statements must cost in proportion to the batch, not the backlog, even on
 * a table the planner knows nothing about (right after a big ship, before autovacuum has
 * analyzed it). Checked on the server's own plans: EXPLAIN ANALYZE of the claim, and
 * auto_explain for every statement a real replay runs. Autovacuum is off for these tables so
 * that they stay unanalyzed for the whole test.
 */
import { describe, expect, it } from 'vitest'
import { claimStatement, PIN_PLANS } from '../../src/postgres/claim.js'
import { tablesFor } from '../../src/postgres/schema.js'
import { loggedPlans, nodes, type PlanNode } from './plans.js'
import { useCluster, useAdmin } from './setup.js'

const cluster = useCluster()
const admin = useAdmin(cluster)

/** A fresh, never analyzed entries table with `due` rows due now and `deferred` due in a day. */
async function table(schema: string, due: number, deferred: number): Promise<void> {
  await cluster.store({ schema })
  const t = tablesFor(schema)
  await admin.query(`ALTER TABLE ${t.entries} SET (autovacuum_enabled = false)`)
  const insert = `INSERT INTO ${t.entries} (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, ts, due_ts, payload, shipped_at, updated_at)
    SELECT gen_random_uuid(), 'h', 'l', 's', i, 'retry', 1, 'boom', 'boom', 0, $2::bigint, '{"n":1}'::jsonb, 0, 0 FROM generate_series(1, $1::int) AS i`
  await admin.query(insert, [due, 0])
  await admin.query(insert, [deferred, Date.now() + 86_400_000])
  const r = await admin.query(`SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, [t.entries])
  expect(Number(r.rows[0].reltuples)).toBe(-1)
}

async function explainClaim(schema: string, n: number): Promise<PlanNode[]> {
  const { text, params } = claimStatement(tablesFor(schema), 'explainer', n, 60_000, {})
  await admin.query('BEGIN')
  try {
    await admin.query(PIN_PLANS)
    const r = await admin.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params)
    return nodes(r.rows[0]['QUERY PLAN'][0].Plan as PlanNode)
  } finally {
    await admin.query('ROLLBACK')
  }
}

describe('central replay plans', () => {
  it('a claim walks entries_due in due order and reads only the batch, without statistics', async () => {
    await table('plan_claim', 3000, 3000)
    const plan = await explainClaim('plan_claim', 100)
    const types = plan.map((p) => p['Node Type'])
    expect(types).not.toContain('Sort')
    expect(types).not.toContain('Bitmap Heap Scan')
    expect(types).not.toContain('Seq Scan')
    const walk = plan.find((p) => p['Node Type'] === 'Index Scan' && p['Index Name'] === 'entries_due')
    expect(walk, JSON.stringify(plan)).toBeDefined()
    expect(walk!['Index Cond']).toMatch(/due_ts <=/)
    expect(walk!['Actual Rows']).toBe(100)
    expect(walk!['Rows Removed by Filter'] ?? 0).toBe(0)
  })

  it('a claim with nothing due stops at the first deferred row (an idle run reads nothing)', async () => {
    await table('plan_idle', 0, 5000)
    const plan = await explainClaim('plan_idle', 100)
    const walk = plan.find((p) => p['Node Type'] === 'Index Scan' && p['Index Name'] === 'entries_due')
    expect(walk, JSON.stringify(plan)).toBeDefined()
    expect(walk!['Actual Rows']).toBe(0)
    expect(walk!['Rows Removed by Filter'] ?? 0).toBe(0)
  })

  it('no statement of a real replay sorts or bitmap-scans the backlog', async () => {
    await table('plan_replay', 2000, 2000)
    // New connections (the replaying store's pool) log every plan.
    const plans = await loggedPlans(admin, cluster, async () => {
      const store = await cluster.store({ schema: 'plan_replay' })
      const s = await store.replay(() => {}, { batchSize: 100, concurrency: 4 })
      expect(s).toMatchObject({ delivered: 2000 })
    })
    const ours = plans.filter((p) => p['Query Text'].includes('"plan_replay".entries') && p['Query Text'].includes('lease_owner'))
    // 20 claims (each settling the batch before it) and the final empty claim, at least.
    expect(ours.length).toBeGreaterThanOrEqual(21)
    for (const p of ours) {
      const types = nodes(p.Plan).map((n) => n['Node Type'])
      expect(types, p['Query Text']).not.toContain('Sort')
      expect(types, p['Query Text']).not.toContain('Bitmap Heap Scan')
      expect(types, p['Query Text']).not.toContain('Seq Scan')
    }
  })
})
