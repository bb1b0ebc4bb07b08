/**
 * The safety net behind the checks in pg-text.ts: when the server refuses a batch for a value
 * in it (SQLSTATE class 22 or 54), the shipper isolates the refused rows; the rest of the
 * batch, later segments and the permanent log go in. A refused row whose payload was the
 * trouble is stored as its whole line (delivered as logged); one the table cannot hold at all
 * becomes one `corrupt` row with its line, the server's message, its file and its offset.
 * A connection failure is not a refusal: the ship fails, naming the file, and sets nothing aside.
 */
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, byState, collect, rowCount, useCluster } from './setup.js'

const cluster = useCluster()

const good = (id: string) => JSON.stringify({ ts: 1_700_000_000_000, attempt: 1, reason: 'boom', id, payload: { id } })

/** Write `lines` as a segment file; returns each line's byte offset by its id. */
function segment(file: string, lines: Array<[id: string, line: string]>, offsets: Map<string, { source: string; offset: number; line: string }>): void {
  let offset = 0
  for (const [id, line] of lines) {
    offsets.set(id, { source: path.basename(file), offset, line })
    offset += Buffer.byteLength(line) + 1
  }
  fs.writeFileSync(file, lines.map(([, l]) => `${l}\n`).join(''))
}

describe('ship: rows the server refuses', () => {
  it('cost only themselves: each is one corrupt row naming its file and offset, with the server\'s message', async () => {
    const dir = tmpDir()
    const where = new Map<string, { source: string; offset: number; line: string }>()
    // A local log holds these (a local replay reads them); the table's integer and bigint columns cannot.
    const hugeAttempt = JSON.stringify({ ts: 1_700_000_000_000, attempt: 3_000_000_000, reason: 'boom', id: 'attempt', payload: { a: 1 } })
    const hugeTs = (id: string) => JSON.stringify({ ts: 1e300, attempt: 1, reason: 'boom', id, payload: { t: 1 } })
    const hugeDue = JSON.stringify({ ts: 1_700_000_000_000, attempt: 1, reason: 'boom', id: 'due', dueTs: 1e20, final: 'exhausted', payload: { d: 1 } })
    segment(path.join(dir, 'r.000000000001.log'), [['g0', good('g0')], ['g1', good('g1')], ['attempt', hugeAttempt], ['g2', good('g2')], ['ts', hugeTs('ts')], ['g3', good('g3')]], where)
    segment(path.join(dir, 'r.000000000002.log'), [['g4', good('g4')], ['ts2', hugeTs('ts2')], ['g5', good('g5')]], where)
    segment(path.join(dir, 'permanent-r.000000000001.log'), [['g6', good('g6').replace('"attempt":1,', '"attempt":1,"final":"exhausted",')], ['due', hugeDue]], where)

    const store = await cluster.store()
    const r = await store.ship(path.join(dir, 'r.log'))
    expect(r).toMatchObject({ shipped: 11, duplicates: 0, retry: 6, permanent: 1, corrupt: 4, refused: 4, files: 3 })
    expect((await byState(store))).toMatchObject({ retry: 6, permanent: 1, corrupt: 4 })
    expect((await allEntries(store)).filter((e) => e.kind !== 'corrupt').map((e) => e.id).sort()).toEqual(['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6'])
    const corrupt = await collect(store.inspect({ kind: 'corrupt' }))
    expect(corrupt).toHaveLength(4)
    const byPlace = new Map(corrupt.map((e) => [`${e.file}@${e.offset}`, e]))
    for (const id of ['attempt', 'ts', 'ts2', 'due']) {
      const w = where.get(id)!
      const e = byPlace.get(`${w.source}@${w.offset}`)
      expect(e, `corrupt row for ${id} at ${w.source}@${w.offset}`).toBeDefined()
      expect(e!.raw).toBe(w.line)
      expect(e!.reason).toMatch(/^the database refused this entry \((22003|22P02): .+\)$/)
    }
    expect(fs.readdirSync(dir).filter((f) => /\d{12}\.log$/.test(f))).toEqual([])
    // Shipped again (a crash before the local delete): nothing twice.
    segment(path.join(dir, 'r.000000000001.log'), [['g0', good('g0')], ['g1', good('g1')], ['attempt', hugeAttempt], ['g2', good('g2')], ['ts', hugeTs('ts')], ['g3', good('g3')]], where)
    expect(await store.ship(path.join(dir, 'r.log'))).toMatchObject({ shipped: 0, duplicates: 6, refused: 2 })
    expect((await rowCount(store))).toBe(11)
  })

  it('a payload the server refuses though the checks passed is stored whole and delivered as logged', async () => {
    // A server configured with a small stack refuses nesting the checks let through (1000 levels).
    const url = new URL(cluster.url)
    url.searchParams.set('options', '-c max_stack_depth=100kB')
    const schema = `refused_depth_${process.pid}`
    const store = await PostgresStore.connect(url.toString(), { schema })
    try {
      const dir = tmpDir()
      const deep = `${'['.repeat(900)}"bottom"${']'.repeat(900)}`
      const line = JSON.stringify({ ts: 1_700_000_000_000, attempt: 1, reason: 'boom', id: 'deep', payload: { a: 1 } }).replace('{"a":1}', deep)
      segment(path.join(dir, 'd.000000000001.log'), [['g0', good('g0')], ['deep', line], ['g1', good('g1')]], new Map())
      expect(await store.ship(path.join(dir, 'd.log'))).toMatchObject({ shipped: 3, retry: 3, corrupt: 0, refused: 0 })
      // The server did refuse it as jsonb: it went in as its line.
      const c = new pg.Client({ connectionString: cluster.url })
      await c.connect()
      try {
        const r = await c.query(`SELECT id, payload IS NULL AS no_jsonb, raw = $1 AS whole FROM "${schema}".entries ORDER BY id`, [line])
        expect(r.rows).toEqual([
          { id: 'deep', no_jsonb: true, whole: true },
          { id: 'g0', no_jsonb: false, whole: null },
          { id: 'g1', no_jsonb: false, whole: null },
        ])
      } finally {
        await c.end()
      }
      const delivered = new Map<string, unknown>()
      await store.replay((p, e) => {
        delivered.set(e.id!, p)
      })
      expect([...delivered.keys()].sort()).toEqual(['deep', 'g0', 'g1'])
      expect(delivered.get('deep')).toEqual(JSON.parse(deep))
    } finally {
      await store.close()
    }
  })

  it('a connection failure is not a refusal: the ship fails naming the file, sets nothing aside, and the next one sends all', async () => {
    const store = await cluster.store()
    const dir = tmpDir()
    const hugeAttempt = JSON.stringify({ ts: 1_700_000_000_000, attempt: 3_000_000_000, reason: 'boom', id: 'attempt', payload: {} })
    segment(path.join(dir, 'c.000000000001.log'), [['g0', good('g0')], ['attempt', hugeAttempt], ['g1', good('g1')]], new Map())
    cluster.cluster.stop()
    let err: (Error & { code?: string }) | undefined
    try {
      err = (await store.ship(path.join(dir, 'c.log')).catch((e: unknown) => e)) as Error & { code?: string }
    } finally {
      cluster.cluster.start()
    }
    expect(err).toMatchObject({ code: 'DLQ_DB' })
    expect(err!.message).toMatch(/ship 3 entries of c\.000000000001\.log \(bytes 0–\d+\): .*(ECONNREFUSED|terminat)/)
    expect(fs.existsSync(path.join(dir, 'c.000000000001.log'))).toBe(true)
    expect(await store.ship(path.join(dir, 'c.log'))).toMatchObject({ shipped: 3, retry: 2, corrupt: 1, refused: 1 })
  })
})
