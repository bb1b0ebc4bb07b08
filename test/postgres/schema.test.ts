import { describe, expect, it } from 'vitest'
import { countsMigration, countTables } from '../../src/postgres/counts-schema.js'
import { PostgresStore } from '../../src/postgres/index.js'
import { tablesFor } from '../../src/postgres/schema.js'
import { tmpDir } from '../helpers/tmp.js'
import { collect, schemaOf, seed, useCluster } from './setup.js'

const pg = useCluster()

describe('schema and migrations', () => {
  it('many hosts connecting at once migrate once; a schema newer than this dletter is refused', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, (_, i) => PostgresStore.connect(pg.url, { schema: 'mig_race', host: `h${i}` })))
    const db = (stores[0] as unknown as { db: { query(t: string, p?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> } }).db
    expect((await db.query('SELECT version FROM mig_race.migrations ORDER BY version')).rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }, { version: 6 }, { version: 7 }, { version: 8 }])
    const idx = await db.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'mig_race' ORDER BY indexname`)
    expect(idx.rows.map((r) => r.indexname)).toEqual([
      'audit_entry',
      'audit_pkey',
      'audit_run',
      'counts_pkey',
      'entries_done',
      'entries_due',
      'entries_group_first',
      'entries_group_ts',
      'entries_key',
      'entries_pkey',
      'entries_ts',
      'migrations_pkey',
    ])
    await db.query('INSERT INTO mig_race.migrations (version) VALUES (99)')
    await expect(PostgresStore.connect(pg.url, { schema: 'mig_race' })).rejects.toMatchObject({
      code: 'DLQ_DB',
      message: expect.stringMatching(/version 99, newer than this dletter knows/),
    })
    for (const s of stores) await s.close()
  })

  it('a schema of version 1 gets migrations 2 to 8 on connect; its entries stay, are counted and replay', async () => {
    const seeded = await pg.store()
    const schema = schemaOf(seeded)
    await seed(seeded, tmpDir(), 3)
    const db = (seeded as unknown as { db: { query(t: string): Promise<unknown> } }).db
    // As a dletter without tracing (nor lineage, the audit trail, kept counts, stacks or the wider counts key: migrations 3 to 7) left it.
    await db.query(`ALTER TABLE "${schema}".entries DROP COLUMN trace, DROP COLUMN first_reason, DROP COLUMN first_error_name, DROP COLUMN first_error_code,
      DROP COLUMN first_fingerprint, DROP COLUMN history, DROP COLUMN redrives, DROP COLUMN origin, DROP COLUMN edit_of, DROP COLUMN stack`)
    await db.query(`DROP TABLE "${schema}".audit, "${schema}".counts, "${schema}".count_deltas`)
    await db.query(`DROP FUNCTION "${schema}".count_entries() CASCADE`)
    await db.query(`DROP INDEX "${schema}".entries_group_ts, "${schema}".entries_group_first`)
    await db.query(`CREATE INDEX entries_fingerprint ON "${schema}".entries (fingerprint, state)`)
    await db.query(`DELETE FROM "${schema}".migrations WHERE version >= 2`)
    await seeded.close()
    const store = await PostgresStore.connect(pg.url, { schema })
    expect((await collect(store.inspect())).map((e) => e.tp)).toEqual([undefined, undefined, undefined])
    expect((await store.stats()).retry.count).toBe(3)
    expect(await store.replay(() => {})).toMatchObject({ delivered: 3 })
    await store.close()
  })

  it('a schema of version 6 gets migration 7 on connect: counts by the wider key, recounted from the rows', async () => {
    const seeded = await pg.store()
    const schema = schemaOf(seeded)
    const t = tablesFor(schema)
    const c = countTables(schema)
    const db = (seeded as unknown as { db: { query<R>(t: string): Promise<{ rows: R[] }> } }).db
    await seed(seeded, tmpDir(), 6, { permanent: (i) => i % 3 === 0, attempt: 2 })
    await seeded.replay(() => {}, { limit: 1 })
    // As version 6 left it: counts by (state, host, fingerprint) only, kept by migration 5's function.
    for (const tbl of [c.counts, c.deltas]) await db.query(`ALTER TABLE ${tbl} DROP COLUMN attempt, DROP COLUMN final, DROP COLUMN leased, DROP COLUMN due_bucket`)
    await db.query(`ALTER TABLE ${c.counts} ADD PRIMARY KEY (state, host, fingerprint)`)
    await db.query(countsMigration(t)[2]!.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'))
    await db.query(`DELETE FROM ${c.counts}; DELETE FROM ${c.deltas}; INSERT INTO ${c.counts} SELECT state, host, fingerprint, count(*) FROM ${t.entries} GROUP BY 1, 2, 3`)
    await db.query(`DELETE FROM "${schema}".migrations WHERE version >= 7`)
    // Written under version 6: a delta by the old key, folded away by the upgrade's recount.
    await db.query(`UPDATE ${t.entries} SET due_ts = 0 WHERE seq = (SELECT min(seq) FROM ${t.entries} WHERE state = 'retry')`)
    await seeded.close()

    const store = await PostgresStore.connect(pg.url, { schema })
    const kept = await (store as unknown as { db: typeof db }).db.query<{ state: string; attempt: number; final: string; n: string }>(
      `SELECT state, attempt, final, sum(n)::text AS n FROM (SELECT * FROM ${c.counts} UNION ALL SELECT * FROM ${c.deltas}) x GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    )
    expect(kept.rows).toEqual([
      { state: 'delivered', attempt: 0, final: '', n: '1' },
      { state: 'permanent', attempt: 0, final: 'manual', n: '2' },
      { state: 'retry', attempt: 2, final: '', n: '3' },
    ])
    const s = await store.stats()
    expect(s.retry).toMatchObject({ count: 3, due: 3, attempts: { '2': 3 } })
    expect(s.permanent.byFinal).toEqual({ manual: 2 })
    expect(await store.replay(() => {})).toMatchObject({ delivered: 3 })
    await store.close()
  })

  it('the group indexes hold open entries only: a settled entry adds no entry to them', async () => {
    const store = await pg.store()
    const schema = schemaOf(store)
    const db = (store as unknown as { db: { query<R>(t: string): Promise<{ rows: R[] }> } }).db
    await seed(store, tmpDir(), 40, { permanent: (i) => i % 4 === 0 })
    expect(await store.replay(() => {})).toMatchObject({ delivered: 30 })
    await db.query(`VACUUM "${schema}".entries`)
    const tuples = await db.query<{ relname: string; n: number }>(
      `SELECT relname, reltuples::int AS n FROM pg_class WHERE relnamespace = '"${schema}"'::regnamespace AND relname IN ('entries_pkey', 'entries_group_ts', 'entries_group_first') ORDER BY relname`,
    )
    expect(tuples.rows).toEqual([
      { relname: 'entries_group_first', n: 10 },
      { relname: 'entries_group_ts', n: 10 },
      { relname: 'entries_pkey', n: 40 },
    ])
    await store.close()
  })

  it('rejects unknown and invalid connect options by name, and refuses calls on a closed store', async () => {
    await expect(PostgresStore.connect(pg.url, { hots: 'x' } as never)).rejects.toThrow(/unknown PostgresStore.connect\(\) option `hots` \(known: connectTimeout, host, logger, maxConnections, schema\)/)
    await expect(PostgresStore.connect(pg.url, { maxConnections: 0 })).rejects.toThrow(/option `maxConnections`/)
    const s = await pg.store()
    await s.close()
    expect(() => s.inspect()).toThrow(/closed/)
    await expect(s.ship('/tmp/x.log')).rejects.toMatchObject({ code: 'DLQ_CLOSED' })
  })
})
