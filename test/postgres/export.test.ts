/**
 * Export over the central store (a real PostgreSQL): the listing's filter as NDJSON, each
 * matching entry exactly once, each line the entry store.inspect() yields, in the same shape
 * as a local export of the same entries (the same keys, plus `host` and `logName`), the origin
 * written down, and the same line `dletter inspect --db … --json` prints.
 */
import os from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import type { Entry } from '../../src/format/model.js'
import { runCli } from '../fixtures/cli-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { buildLog, get, serve } from '../serve/helpers.js'
import { useCluster } from './setup.js'

const pg = useCluster()

function lines(text: string): any[] {
  if (text === '') return []
  expect(text.endsWith('\n')).toBe(true)
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l))
}

/** Entry keys that say where an entry is, not what it is: local and central values differ, the keys do not. */
const keysOf = (o: object) => Object.keys(o).sort()

describe('GET /api/logs/central/export (central store)', () => {
  let store: PostgresStore
  beforeAll(async () => {
    for (const host of ['web-1', 'web-2']) {
      const s = await PostgresStore.connect(pg.url, { host })
      await s.ship(buildLog(tmpDir()).log)
      await s.close()
    }
    store = await PostgresStore.connect(pg.url)
  }, 120_000)
  afterAll(async () => {
    await store?.close()
  })

  async function listed(o: Parameters<PostgresStore['inspect']>[0]): Promise<Entry[]> {
    const out: Entry[] = []
    for await (const e of store.inspect(o)) out.push(e)
    return out
  }

  it('sends every matching entry once, as store.inspect() yields it, origin included', async () => {
    const s = await serve({ db: pg.url })
    for (const kind of ['retry', 'permanent', 'corrupt'] as const) {
      const r = await get(s, `/api/logs/central/export?kind=${kind}`)
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8')
      expect(r.headers.get('content-disposition')).toBe(`attachment; filename="central-${kind}.ndjson"`)
      const got = lines(r.text)
      const want = await listed({ kind })
      expect(got.map((e) => e.ref)).toEqual(want.map((e) => e.ref))
      expect(new Set(got.map((e) => e.ref)).size).toBe(got.length)
      for (const [i, e] of got.entries()) {
        const { line: _line, ...fields } = want[i]!
        // Shipped entries already carry their origin; a corrupt one gets its host and log added.
        expect(e).toEqual(JSON.parse(JSON.stringify({ ...fields, origin: { ...fields.origin, host: fields.host, log: fields.logName } })))
        expect(e.origin).toMatchObject({ host: e.host, log: e.logName })
      }
    }
    expect(lines((await get(s, '/api/logs/central/export?kind=permanent')).text)).toHaveLength(12)
  })

  it('applies the filter, host included', async () => {
    const s = await serve({ db: pg.url })
    const got = lines((await get(s, '/api/logs/central/export?kind=permanent&reason=timeout&host=web-1')).text)
    expect(got.map((e) => [e.host, e.id])).toEqual([
      ['web-1', 'p0'],
      ['web-1', 'p1'],
      ['web-1', 'p2'],
    ])
    expect(lines((await get(s, '/api/logs/central/export?kind=permanent&reason=ECONN.*5432&re=1')).text).map((e) => e.id)).toEqual(['p3', 'p4', 'p3', 'p4'])
    expect(lines((await get(s, '/api/logs/central/export?kind=retry&id=q2')).text).map((e) => e.host)).toEqual(['web-1', 'web-2'])
  })

  it('has the keys of a local export of the same entries, plus host and logName', async () => {
    const b = buildLog(tmpDir())
    const s = await serve({ logs: [b.log], db: pg.url })
    for (const kind of ['retry', 'permanent', 'corrupt'] as const) {
      const local = lines((await get(s, `/api/logs/orders/export?kind=${kind}`)).text)
      const central = lines((await get(s, `/api/logs/central/export?kind=${kind}&host=web-1`)).text)
      expect(central).toHaveLength(local.length)
      for (const [i, l] of local.entries()) {
        const c = central[i]
        expect(keysOf(c), `${kind} ${i}`).toEqual(keysOf({ ...l, host: '', logName: '' }))
        expect(keysOf(c.origin)).toEqual(keysOf(l.origin))
        expect(l.origin.host).toBe(os.hostname())
      }
    }
  })

  it('prints the lines `dletter inspect --db … --json` prints', async () => {
    const s = await serve({ db: pg.url })
    const cli = await runCli(['inspect', '--db', pg.url, '--permanent', '--json'])
    expect(cli.code).toBe(0)
    expect((await get(s, '/api/logs/central/export?kind=permanent')).text).toBe(cli.stdout)
  })
})
