/**
 * Settling, renewing and releasing a claimed batch (`… WHERE seq = ANY($1)`) must find its
 * rows by primary key at every batch size, on a table the planner has no statistics for
 * (right after a large ship, before autovacuum analyzes it): the server's own plans, by
 * EXPLAIN, for each statement as claim.ts sends it — and a claim that settles the batch before
 * it in the same statement.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { claimStatement, PIN_PLANS, settleStatements } from '../../src/postgres/claim.js'
import { tablesFor } from '../../src/postgres/schema.js'
import { nodes, type PlanNode } from './plans.js'
import { useCluster, useAdmin } from './setup.js'

const cluster = useCluster()
const admin = useAdmin(cluster)
const SCHEMA = 'plan_settle'
const ROWS = 100_000

beforeAll(async () => {
  await cluster.store({ schema: SCHEMA })
  const t = tablesFor(SCHEMA)
  await admin.query(`ALTER TABLE ${t.entries} SET (autovacuum_enabled = false)`)
  await admin.query(
    `INSERT INTO ${t.entries} (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, ts, due_ts, payload, shipped_at, updated_at, lease_owner, lease_until)
     SELECT gen_random_uuid(), 'h', 'l', 's', i, 'retry', 1, 'boom', 'boom', i, 0, '{"n":1}'::jsonb, 0, 0, 'w', 9e15 FROM generate_series(1, $1::int) AS i`,
    [ROWS],
  )
  const r = await admin.query(`SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, [t.entries])
  expect(Number(r.rows[0].reltuples)).toBe(-1)
}, 120_000)

async function explain(text: string, params: unknown[]): Promise<PlanNode[]> {
  await admin.query('BEGIN')
  try {
    await admin.query(PIN_PLANS)
    const r = await admin.query(`EXPLAIN (FORMAT JSON) ${text}`, params)
    return nodes(r.rows[0]['QUERY PLAN'][0].Plan as PlanNode)
  } finally {
    await admin.query('ROLLBACK')
  }
}

describe('settle, renew and release plans', () => {
  for (const [phase, n] of [['fresh', 1], ['fresh', 100], ['fresh', 500], ['analyzed', 1], ['analyzed', 100], ['analyzed', 500]] as const) {
    it(`${phase} table, batch ${n}: every statement reads the table by primary key only`, async () => {
      if (phase === 'analyzed') await admin.query(`ANALYZE ${tablesFor(SCHEMA).entries}`)
      // Seqs spread over the table, as a batch claimed from a long backlog is.
      const seqs = Array.from({ length: n }, (_, i) => 1 + Math.floor((i * ROWS) / n))
      const failed = seqs.map((seq) => ({ seq, state: 'retry' as const, attempt: 2, reason: 'r', fingerprint: 'r', errorName: null, errorCode: null, final: null, ts: 1, dueTs: 2, tried: true }))
      const seen: string[] = []
      for (const s of settleStatements(tablesFor(SCHEMA), 'w', seqs, failed, 60_000)) {
        const plan = await explain(s.text, s.params)
        const reads = plan.filter((p) => p['Relation Name'] === 'entries' && p['Node Type'] !== 'ModifyTable')
        seen.push(`${s.name}: ${reads.map((p) => `${p['Node Type']} ${p['Index Name'] ?? ''}`).join(', ') || 'nothing'}`)
      }
      expect(seen).toEqual(['settle delivered', 'settle failed', 'renew', 'release'].map((name) => `${name}: Index Scan entries_pkey`))
    })

    it(`${phase} table, batch ${n}: a claim that settles the batch before it reads those rows by primary key and walks entries_due for the next`, async () => {
      if (phase === 'analyzed') await admin.query(`ANALYZE ${tablesFor(SCHEMA).entries}`)
      const seqs = Array.from({ length: n }, (_, i) => 1 + Math.floor((i * ROWS) / n))
      const { text, params } = claimStatement(tablesFor(SCHEMA), 'w', n, 60_000, {}, seqs)
      const reads = (await explain(text, params)).filter((p) => p['Relation Name'] === 'entries' && p['Node Type'] !== 'ModifyTable')
      expect(reads.map((p) => `${p['Node Type']} ${p['Index Name']}`).sort()).toEqual(['Index Scan entries_due', 'Index Scan entries_pkey', 'Index Scan entries_pkey'])
    })
  }
})

describe('pinned plans and JIT', () => {
  it('a pinned statement is never compiled by JIT, though its disabled nodes cost more than jit_above_cost', async () => {
    // Without LLVM in the server the question does not arise; CI's PostgreSQL has it.
    expect((await admin.query('SELECT pg_jit_available() AS a')).rows[0].a).toBe(true)
    const t = tablesFor(SCHEMA)
    await admin.query('BEGIN')
    try {
      await admin.query(PIN_PLANS)
      // A sort of no rows, as the stats probes have: with sorts off it costs 10^10.
      const r = await admin.query(`EXPLAIN (ANALYZE, FORMAT JSON) SELECT ts, seq FROM ${t.entries} WHERE seq = ANY($1::bigint[]) AND false ORDER BY ts, seq LIMIT 1`, [[1]])
      const out = r.rows[0]['QUERY PLAN'][0] as { Plan: { 'Total Cost': number }; JIT?: unknown }
      expect(out.Plan['Total Cost']).toBeGreaterThan(Number((await admin.query('SHOW jit_above_cost')).rows[0].jit_above_cost))
      expect(out.JIT).toBeUndefined()
    } finally {
      await admin.query('ROLLBACK')
    }
  })
})
