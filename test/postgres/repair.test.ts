/**
 * Repair before redrive on the central store, on a real PostgreSQL: 1,000 shipped permanent
 * entries with a bug in their data are repaired by a transform (dry run first: nothing
 * changes), then replayed centrally. Every repaired payload is delivered once, each original
 * is a tombstone the new row's `editOf` names, and the audit table has 1,000 rows whose
 * patches turn each original payload into the delivered one, with matching SHA-256s. Plain
 * requeues and purges are audited too (no patch).
 */
import path from 'node:path'
import pgLib from 'pg'
import { describe, expect, it } from 'vitest'
import jsonpatch from 'fast-json-patch'
import { Logger } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { byState, schemaOf, useCluster } from './setup.js'

const pg = useCluster()
const N = 1000

async function query<R>(sql: string, params: unknown[] = []): Promise<R[]> {
  const c = new pgLib.Client({ connectionString: pg.url })
  await c.connect()
  try {
    return (await c.query(sql, params)).rows as R[]
  } finally {
    await c.end()
  }
}

const fix = (p: unknown) => {
  const o = p as { amount: string }
  return { ...o, amount: Number(o.amount.replace(',', '.')), currency: 'EUR' }
}

describe('store.requeue({ transform })', () => {
  it('repairs 1,000 entries; central replay delivers each repaired payload once; the audit table holds 1,000 patches', async () => {
    const store = await pg.store()
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    const originals = new Map<string, { id: string; amount: string }>()
    for (let i = 0; i < N; i++) {
      const p = { id: `ord-${i}`, amount: `${i},50` }
      originals.set(p.id, p)
      await dlq.logPermanent(p, new Error('amount is not a number'), { id: p.id, attempt: 3 })
    }
    await dlq.logPermanent({ id: 'other' }, new Error('card declined'), { id: 'other' })
    await dlq.close()
    expect(await store.ship(log)).toMatchObject({ shipped: N + 1 })

    const filter = { reason: 'amount is not a number' }
    const dry = await store.requeue({ ...filter, transform: fix, why: 'amounts as strings', dryRun: true })
    expect(dry).toMatchObject({ count: N, dryRun: true, transform: { changed: N, failed: 0, untouched: 0 } })
    expect(dry.transform!.preview).toHaveLength(5)
    expect(dry.transform!.preview[0]!.patch).toEqual(expect.arrayContaining([{ op: 'replace', path: '/amount', value: 0.5 }, { op: 'add', path: '/currency', value: 'EUR' }]))
    expect(await byState(store)).toMatchObject({ permanent: N + 1, retry: 0 })

    await expect(store.requeue({ ...filter, transform: fix })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    const r = await store.requeue({ ...filter, transform: fix, why: 'amounts as strings', actor: 'ops@test' })
    expect(r).toMatchObject({ count: N, resetAttempts: true, transform: { changed: N }, audit: { records: N } })
    expect(await byState(store)).toMatchObject({ permanent: 1, retry: N, purged: N })

    const delivered = new Map<string, unknown[]>()
    const summary = await store.replay((payload, entry) => {
      expect(entry.attempt).toBe(1)
      const id = (payload as { id: string }).id
      delivered.set(id, [...(delivered.get(id) ?? []), payload])
    })
    expect(summary).toMatchObject({ delivered: N })
    for (const [id, original] of originals) expect([id, delivered.get(id)]).toEqual([id, [fix(original)]])

    const schema = schemaOf(store)
    const rows = await query<{ actor: string; why: string; op: string; transform: { name: string }; patch: jsonpatch.Operation[]; undo: jsonpatch.Operation[]; before: unknown; after: unknown; before_ok: boolean; after_ok: boolean; edit_ok: boolean; redrives: number }>(
      `SELECT a.actor, a.why, a.op, a.transform, a.patch, a.undo, o.payload AS before, n.payload AS after, n.redrives,
              a.before_sha256 = encode(sha256(convert_to(o.payload::text, 'UTF8')), 'hex') AS before_ok,
              a.after_sha256 = encode(sha256(convert_to(n.payload::text, 'UTF8')), 'hex') AS after_ok,
              (n.edit_of->'location'->>'ref')::bigint = o.seq AND o.state = 'purged' AS edit_ok
       FROM "${schema}".audit a JOIN "${schema}".entries o ON o.seq = a.entry_seq JOIN "${schema}".entries n ON n.seq = a.new_seq`,
    )
    expect(rows).toHaveLength(N)
    for (const row of rows) {
      expect(row).toMatchObject({ actor: 'ops@test', why: 'amounts as strings', op: 'requeue', transform: { name: 'fix' }, before_ok: true, after_ok: true, edit_ok: true, redrives: 1 })
      expect(jsonpatch.applyPatch(structuredClone(row.before), row.patch, true, false).newDocument).toEqual(row.after)
      expect(jsonpatch.applyPatch(structuredClone(row.after), row.undo, true, false).newDocument).toEqual(row.before)
      expect(row.after).toEqual(delivered.get((row.before as { id: string }).id)![0])
    }
  }, 120_000)

  it('audits a plain requeue and a purge in the statement that changes the entries (no patch)', async () => {
    const store = await pg.store()
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    for (let i = 0; i < 4; i++) await dlq.logPermanent({ i }, new Error(i < 2 ? 'requeue me' : 'purge me'), { id: `e${i}` })
    await dlq.close()
    await store.ship(log)
    expect(await store.requeue({ reason: 'requeue me' })).toMatchObject({ count: 2, audit: { records: 2 } })
    expect(await store.purge({ kind: 'permanent', reason: 'purge me', why: 'old', actor: 'me' })).toMatchObject({ count: 2, audit: { records: 2 } })
    const rows = await query<{ op: string; id: string; why: string | null; actor: string; patch: unknown; after_sha256: unknown; location: { ref: string; host: string } }>(
      `SELECT op, id, why, actor, patch, after_sha256, location FROM "${schemaOf(store)}".audit ORDER BY op DESC, id`,
    )
    expect(rows.map((r) => [r.op, r.id, r.why, r.patch, r.after_sha256])).toEqual([
      ['requeue', 'e0', null, null, null],
      ['requeue', 'e1', null, null, null],
      ['purge', 'e2', 'old', null, null],
      ['purge', 'e3', 'old', null, null],
    ])
    expect(rows[0]!.actor).toMatch(/@/)
    expect(rows[2]!.location).toMatchObject({ ref: expect.stringMatching(/^\d+$/), host: 'host-a' })
  }, 60_000)
})
