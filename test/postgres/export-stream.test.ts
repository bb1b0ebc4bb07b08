/**
 * An export of a large central store (a real PostgreSQL) holds little memory — paged by
 * sequence number, read only as the client takes it: while the client reads nothing the
 * export waits with fewer entries read than match — and a client that goes away ends the
 * paging before the end.
 */
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { exportPausedThenAll, openGet, watchExports, writeBigSegment } from '../serve/export-client.js'
import { serve } from '../serve/helpers.js'
import { useCluster } from './setup.js'

const COUNT = 200_000

const cluster = useCluster()
const watch = watchExports()
afterAll(() => watch.stop())

beforeAll(async () => {
  const dir = tmpDir()
  writeBigSegment(path.join(dir, 'permanent-big.000000000001.log'), COUNT, 600)
  const store = await PostgresStore.connect(cluster.url, { host: 'web-1' })
  const r = await store.ship(path.join(dir, 'big.log'))
  // Memory is the concern here, not the plan: on a table shipped a moment ago (no statistics)
  // a listing's page plan reads every row after the page (issue 21, item 5), which makes this
  // file take minutes; with statistics each page walks the primary key.
  await store.close()
  const admin = new pg.Client({ connectionString: cluster.url })
  await admin.connect()
  await admin.query('ANALYZE dletter.entries')
  await admin.end()
  expect(r.permanent).toBe(COUNT)
}, 300_000)

it(`exports ${COUNT} central entries with bounded memory, waiting while the client does not read`, async () => {
  const s = await serve({ db: cluster.url })
  await exportPausedThenAll(s.url, '/api/logs/central/export?kind=permanent', 'central', watch, COUNT)
}, 180_000)

it('stops paging when the client disconnects', async () => {
  watch.events.splice(0)
  const s = await serve({ db: cluster.url })
  const res = await openGet(`${s.url}/api/logs/central/export?kind=permanent`)
  expect(res.statusCode).toBe(200)
  await new Promise<void>((resolve) => res.once('data', () => resolve()))
  res.destroy()
  const end = await watch.next('central', (e) => e.event === 'end')
  expect(end.stopped).toBe('client')
  expect(end.entries).toBeGreaterThan(0)
  expect(end.entries).toBeLessThan(COUNT)
}, 60_000)
