/**
 * The payload editor's API over a local log: the preview is the library's dry run (the CLI's
 * diff text, nothing written), apply requeues exactly that one entry as a new record with
 * `editOf` and the new payload, audited with who, why and the patch; an entry changed by
 * someone else between preview and apply is refused (409) and nothing moves; a read-only
 * server refuses the POST; the entry pages show the audit records that name them.
 */
import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { familyLines } from '../fixtures/cli-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { readAudit, requeue } from '../../src/index.js'
import { editEntry, entryStamp } from '../../src/serve/edit.js'
import { ServeContext } from '../../src/serve/context.js'
import { localSource } from '../../src/serve/backend-source.js'
import { Limiter } from '../../src/serve/cache.js'
import { buildLog, contents, get, post, serve } from './helpers.js'

type S = { url: string }

/** The entry page of the permanent entry with this id: its ref and its stamp. */
async function open(s: S, id: string): Promise<{ ref: string; stamp: string; page: string }> {
  const list = (await get(s, `/api/logs/orders/entries?kind=permanent&id=${encodeURIComponent(id)}`)).json()
  const ref = list.entries[0].ref as string
  const page = (await get(s, `/logs/orders/entry?ref=${encodeURIComponent(ref)}`)).text
  const stamp = /data-stamp="([^"]+)"/.exec(page)?.[1]
  return { ref, stamp: stamp ?? '', page }
}

describe('dletter serve: edit one entry (local log)', () => {
  it('preview shows the diff and writes nothing; apply moves just that entry, edited, with editOf and an audit record', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const { ref, stamp, page } = await open(s, 'p1')
    expect(page).toContain('id="edit-payload"')
    expect(page).toContain('src="/static/edit.js"')
    const before = contents(a.dir)
    const body = { ref, stamp, payload: JSON.stringify({ order: 2, amount: 10 }), why: 'amount was missing' }

    const dry = await post(s, '/api/logs/orders/edit', body)
    expect(dry.status).toBe(200)
    expect(dry.json().count).toBe(1)
    // The CLI's words: the transform line, the patch as diff lines, the requeue sentence.
    expect(dry.json().text).toContain('would repair 1, ')
    expect(dry.json().text).toContain('+ /amount: 10')
    expect(dry.json().text).toMatch(/dry run: would move 1 entry .* Nothing was changed\./)
    expect(contents(a.dir)).toEqual(before)

    const done = await post(s, '/api/logs/orders/edit', { ...body, dryRun: false })
    expect(done.status).toBe(200)
    expect(done.json()).toMatchObject({ count: 1, summary: { dryRun: false, count: 1, resetAttempts: true, audit: { records: 1 } } })
    const retry = familyLines(a.log, 'retry').map((l) => JSON.parse(l))
    const moved = retry.filter((e) => e.id === 'p1')
    expect(moved).toHaveLength(1)
    expect(moved[0]).toMatchObject({ attempt: 1, payload: { order: 2, amount: 10 }, editOf: { id: 'p1', location: { ref: expect.stringMatching(/^permanent\//) } } })
    // Nothing else moved: 6 permanent entries before, 5 now.
    expect(familyLines(a.log, 'permanent').map((l) => JSON.parse(l).id)).not.toContain('p1')
    expect(familyLines(a.log, 'permanent')).toHaveLength(5)
    expect(retry).toHaveLength(4)

    const audit = fs.readFileSync(`${a.log}.audit.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({ op: 'requeue', why: 'amount was missing', id: 'p1', patch: [{ op: 'add', path: '/amount', value: 10 }], actor: expect.stringContaining('@') })

    // The new record's page shows the audit record that made it; readAudit gives it too.
    const newRef = (await get(s, '/api/logs/orders/entries?kind=retry&id=p1')).json().entries[0].ref as string
    expect(await readAudit(a.log, newRef)).toEqual(audit)
    const newPage = (await get(s, `/logs/orders/entry?ref=${encodeURIComponent(newRef)}`)).text
    expect(newPage).toContain('<table class="audit" id="audit">')
    expect(newPage).toContain('amount was missing')
    expect(newPage).toContain('&quot;/amount&quot;')
    expect((await get(s, `/api/logs/orders/audit?ref=${encodeURIComponent(newRef)}`)).json().records).toEqual(audit)
  })

  it('edits an entry of the active permanent file (the requeue seals it first: a new name, the same offsets)', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const { ref, stamp } = await open(s, 'p4')
    expect(ref).toMatch(/^permanent\/permanent-orders\.log\//)
    const r = await post(s, '/api/logs/orders/edit', { ref, stamp, payload: '{"order":5,"fixed":true}', why: 'fix', dryRun: false })
    expect(r.status).toBe(200)
    expect(familyLines(a.log, 'retry').map((l) => JSON.parse(l)).filter((e) => e.id === 'p4').map((e) => e.payload)).toEqual([{ order: 5, fixed: true }])
  })

  it('refuses with 409 an edit of an entry requeued by someone else after the preview; nothing moves', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const { ref, stamp } = await open(s, 'p3')
    const body = { ref, stamp, payload: JSON.stringify({ order: 4, fixed: true }), why: 'fix' }
    expect((await post(s, '/api/logs/orders/edit', body)).status).toBe(200)
    // Another operator requeues it (the CLI, a script) between preview and apply.
    expect((await requeue(a.log, { id: 'p3' })).count).toBe(1)
    const before = contents(a.dir)
    const r = await post(s, '/api/logs/orders/edit', { ...body, dryRun: false })
    expect(r.status).toBe(409)
    expect(r.json()).toMatchObject({ code: 'DLQ_STALE', error: expect.stringContaining('no longer where it was') })
    expect(contents(a.dir)).toEqual(before)
    expect(familyLines(a.log, 'retry').map((l) => JSON.parse(l)).filter((e) => e.id === 'p3').map((e) => e.payload)).toEqual([{ order: 4 }])
  })

  it('refuses with 409 when the entry moves between the check and the run: the transform finds nothing to change', async () => {
    const a = buildLog(tmpDir())
    const ctx = new ServeContext([localSource('orders', a.log, new Limiter(1))], true, undefined)
    const source = ctx.sources[0]!
    const ref = (await source.list({ filter: { kind: 'permanent', id: 'p0' }, order: 'oldest', skip: 0, limit: 1 }))[0]!.ref
    const seen = (await source.entry(ref))!
    // The page's check reads the entry as it was; someone requeues it right after.
    const late = Object.assign(Object.create(source) as typeof source, { entry: async () => seen })
    await requeue(a.log, { id: 'p0' })
    const before = contents(a.dir)
    const err = await editEntry(ctx, late, { ref, stamp: entryStamp(seen), payload: '{"order":1,"b":1}', why: 'fix', dryRun: false }, undefined).catch((e: unknown) => e)
    expect(err).toMatchObject({ status: 409, code: 'DLQ_STALE' })
    expect(contents(a.dir)).toEqual(before)
    await ctx.close()
  })

  it('checks the input: invalid JSON, no reason, an unchanged payload', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const { ref, stamp } = await open(s, 'p0')
    const bad = await post(s, '/api/logs/orders/edit', { ref, stamp, payload: '{"order": 1,', why: 'fix' })
    expect(bad.status).toBe(400)
    expect(bad.json().error).toMatch(/^payload: not valid JSON/)
    expect((await post(s, '/api/logs/orders/edit', { ref, stamp, payload: '{"order":5}', why: ' ' })).json().error).toMatch(/^why:/)
    expect((await post(s, '/api/logs/orders/edit', { ref, stamp, payload: '{ "order": 1 }', why: 'x' })).json().error).toMatch(/unchanged/)
  })

  it('read-only: no editor on the page, and the POST is refused', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log] })
    const { ref, page } = await open(s, 'p1')
    expect(page).not.toContain('id="edit"')
    expect(page).not.toContain('edit.js')
    const before = contents(a.dir)
    const r = await post(s, '/api/logs/orders/edit', { ref, stamp: 'abc', payload: '{"a":1}', why: 'fix', dryRun: false })
    expect(r.status).toBe(403)
    expect(r.json().code).toBe('DLQ_READ_ONLY')
    expect(contents(a.dir)).toEqual(before)
  })

  it('a retry entry of a local log is not editable (it belongs to the replay): said on the page and by the API', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const ref = (await get(s, '/api/logs/orders/entries?kind=retry&id=q0')).json().entries[0].ref
    const page = (await get(s, `/logs/orders/entry?ref=${encodeURIComponent(ref)}`)).text
    expect(page).toContain('id="edit-unavailable"')
    const e = (await get(s, `/api/logs/orders/entry?ref=${encodeURIComponent(ref)}`)).json()
    expect(e.kind).toBe('retry')
    const r = await post(s, '/api/logs/orders/edit', { ref, stamp: entryStamp(e), payload: '{"n":9}', why: 'fix' })
    expect(r.status).toBe(400)
    expect(r.json().error).toMatch(/belong to its replay/)
  })
})
