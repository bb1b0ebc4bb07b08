/**
 * An export of a large central store (a real PostgreSQL) holds little memory — paged by
 * sequence number, read only as the client takes it: while the client reads nothing the
 * export waits with fewer entries read than match — and a client that goes away ends the
 * paging before the end.
 */
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import pg from 'pg'
import { beforeAll, expect, it } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { eachLine, openGet, watchExports, writeBigSegment } from '../serve/export-client.js'
import { serve } from '../serve/helpers.js'
import { useCluster } from './setup.js'

const COUNT = 200_000
const PAD = 600
/** Live heap and buffer growth allowed at any sample: a small fraction of the ~170 MB exported. */
const HEAP_BOUND = 24 * 1024 * 1024

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const heap = () => {
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

const cluster = useCluster()
const watch = watchExports()

beforeAll(async () => {
  const dir = tmpDir()
  writeBigSegment(path.join(dir, 'permanent-big.000000000001.log'), COUNT, PAD)
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
  const base = heap()
  let peak = base
  const sample = () => (peak = Math.max(peak, heap()))
  const res = await openGet(`${s.url}/api/logs/central/export?kind=permanent`)
  expect(res.statusCode).toBe(200)
  const waiting = await watch.next('central', (e) => e.event === 'wait' || e.event === 'end')
  sample()
  expect(peak - base).toBeLessThan(HEAP_BOUND)
  expect(waiting.event).toBe('wait')
  expect(waiting.entries).toBeLessThan(COUNT / 2)

  const seen = new Uint8Array(COUNT)
  let bytes = 0
  const n = await eachLine(res, (l) => {
    bytes += l.length + 1
    const e = JSON.parse(l)
    seen[e.payload.i]++
    if (e.payload.i % 5000 === 0) sample()
  })
  sample()
  expect(n).toBe(COUNT)
  expect(seen.every((k) => k === 1)).toBe(true)
  expect(bytes).toBeGreaterThan(3 * HEAP_BOUND)
  expect(await watch.next('central', (e) => e.event === 'end')).toMatchObject({ stopped: null, entries: COUNT })
  console.log(`central export of ${COUNT} entries (${(bytes / 1e6).toFixed(0)} MB): live heap + buffers growth peak ${((peak - base) / 1e6).toFixed(1)} MB`)
  expect(peak - base).toBeLessThan(HEAP_BOUND)
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
