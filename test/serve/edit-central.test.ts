/**
 * The payload editor's API over the central store, on a real PostgreSQL: the preview is
 * `store.requeue({ transform, dryRun })` (nothing changes), apply makes a new retry row with
 * `editOf` and the new payload and a tombstone of the original, with an audit row (patch,
 * why, actor) that the new row's page shows; a permanent entry requeued by someone else
 * meanwhile is refused (409) and nothing moves; a central retry entry can be edited too; a
 * read-only server refuses the POST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { collect, useCluster } from '../postgres/setup.js'
import { buildLog, get, post, serve } from './helpers.js'

const pg = useCluster()

describe('dletter serve --db: edit one entry (central store)', () => {
  let store: PostgresStore
  beforeAll(async () => {
    // The server connects with the connection string alone: the default schema.
    store = await PostgresStore.connect(pg.url, { host: 'web-1' })
    await store.ship(buildLog(tmpDir()).log)
  }, 120_000)
  afterAll(async () => {
    await store?.close()
  })

  async function open(s: { url: string }, kind: string, id: string): Promise<{ ref: string; stamp: string; page: string }> {
    const ref = (await get(s, `/api/logs/central/entries?kind=${kind}&id=${id}`)).json().entries[0].ref as string
    const page = (await get(s, `/logs/central/entry?ref=${encodeURIComponent(ref)}`)).text
    return { ref, stamp: /data-stamp="([^"]+)"/.exec(page)?.[1] ?? '', page }
  }

  it('read-only: no editor, the POST refused', async () => {
    const s = await serve({ db: pg.url })
    const { ref, page } = await open(s, 'permanent', 'p1')
    expect(page).not.toContain('id="edit"')
    const r = await post(s, '/api/logs/central/edit', { ref, stamp: 'abc', payload: '{"a":1}', why: 'fix', dryRun: false })
    expect(r.status).toBe(403)
    expect((await store.readEntry(ref))?.kind).toBe('permanent')
  })

  it('preview, apply: a new retry row with editOf and the new payload, the original a tombstone, an audit row the new page shows', async () => {
    const s = await serve({ db: pg.url, allowWrites: true })
    const { ref, stamp, page } = await open(s, 'permanent', 'p1')
    expect(page).toContain('id="edit-payload"')
    const body = { ref, stamp, payload: JSON.stringify({ order: 2, amount: 10 }), why: 'amount was missing' }
    const dry = await post(s, '/api/logs/central/edit', body)
    expect(dry.status).toBe(200)
    expect(dry.json().text).toContain('+ /amount: 10')
    expect(dry.json().text).toMatch(/dry run: would move 1 entry of the central store/)
    expect((await store.readEntry(ref))?.kind).toBe('permanent')

    const done = await post(s, '/api/logs/central/edit', { ...body, dryRun: false })
    expect(done.status).toBe(200)
    expect(done.json()).toMatchObject({ count: 1, summary: { count: 1, audit: { records: 1 } } })
    expect(await store.readEntry(ref)).toBeUndefined()
    const moved = await collect(store.inspect({ kind: 'retry', id: 'p1' }))
    expect(moved).toHaveLength(1)
    expect(moved[0]).toMatchObject({ attempt: 1, payload: { order: 2, amount: 10 }, editOf: { id: 'p1', location: { ref } } })

    const audit = await store.readAudit(moved[0]!.ref)
    expect(audit).toMatchObject([{ op: 'requeue', why: 'amount was missing', id: 'p1', location: { ref, host: 'web-1' }, patch: [{ op: 'add', path: '/amount', value: 10 }] }])
    expect(audit[0]!.actor).toContain('@')
    // The original's ref names the same record (as the row that was changed).
    expect(await store.readAudit(ref)).toEqual(audit)
    const newPage = (await get(s, `/logs/central/entry?ref=${encodeURIComponent(moved[0]!.ref)}`)).text
    expect(newPage).toContain('id="audit"')
    expect(newPage).toContain('amount was missing')
    expect((await get(s, `/api/logs/central/audit?ref=${moved[0]!.ref}`)).json().records).toEqual(audit)
  })

  it('refuses with 409 an edit of an entry requeued by someone else after the preview; nothing moves', async () => {
    const s = await serve({ db: pg.url, allowWrites: true })
    const { ref, stamp } = await open(s, 'permanent', 'p3')
    const body = { ref, stamp, payload: JSON.stringify({ order: 4, fixed: true }), why: 'fix' }
    expect((await post(s, '/api/logs/central/edit', body)).status).toBe(200)
    expect((await store.requeue({ id: 'p3' })).count).toBe(1)
    const r = await post(s, '/api/logs/central/edit', { ...body, dryRun: false })
    expect(r.status).toBe(409)
    expect(r.json().code).toBe('DLQ_STALE')
    const rows = await collect(store.inspect({ kind: 'retry', id: 'p3' }))
    expect(rows.map((e) => [e.ref, e.payload, e.editOf])).toEqual([[ref, { order: 4 }, undefined]])
    expect((await store.readAudit(ref)).map((a) => a.patch)).toEqual([undefined])
  })

  it('a retry entry of the central store can be edited too', async () => {
    const s = await serve({ db: pg.url, allowWrites: true })
    const { ref, stamp } = await open(s, 'retry', 'q2')
    const r = await post(s, '/api/logs/central/edit', { ref, stamp, payload: '{"n":2,"fixed":true}', why: 'fix', dryRun: false })
    expect(r.status).toBe(200)
    const rows = await collect(store.inspect({ kind: 'retry', id: 'q2' }))
    expect(rows.map((e) => [e.payload, e.editOf?.location.ref])).toEqual([[{ n: 2, fixed: true }, ref]])
  })
})
