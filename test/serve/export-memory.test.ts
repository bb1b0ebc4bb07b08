/**
 * An export of a large local log holds little memory: while the client reads nothing the
 * server stops reading once the socket is full (it says so on the export channel, with fewer
 * entries read than the log holds), and over the whole download the heap stays far below the
 * size of the data. Every entry arrives exactly once.
 */
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterEach, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { eachLine, openGet, watchExports, writeBigSegment } from './export-client.js'
import { serve } from './helpers.js'

const COUNT = 200_000
const PAD = 600
/** Live heap growth allowed at any sample: a small fraction of the ~170 MB exported. */
const HEAP_BOUND = 24 * 1024 * 1024

// Samples measure what is live (heap and buffers), not garbage not yet collected: a full collection before each.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
/** The JS heap and the buffers outside it (chunks waiting for the socket are Uint8Arrays). */
const heap = () => {
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

const watch = watchExports()
afterEach(() => watch.events.splice(0))

it(`exports ${COUNT} entries with bounded memory, pausing while the client does not read`, async () => {
  const dir = tmpDir()
  const log = path.join(dir, 'big.log')
  writeBigSegment(path.join(dir, 'permanent-big.000000000001.log'), COUNT, PAD)
  const s = await serve({ logs: [log] })
  const base = heap()
  let peak = base
  const sample = () => (peak = Math.max(peak, heap()))

  const res = await openGet(`${s.url}/api/logs/big/export?kind=permanent`)
  expect(res.statusCode).toBe(200)
  // Nothing read yet: the server must stop at the full socket, not read the log into memory.
  const waiting = await watch.next('big', (e) => e.event === 'wait' || e.event === 'end')
  sample()
  expect(peak - base).toBeLessThan(HEAP_BOUND)
  expect(waiting.event).toBe('wait')
  expect(waiting.entries).toBeGreaterThan(0)
  expect(waiting.entries).toBeLessThan(COUNT / 2)

  const seen = new Uint8Array(COUNT)
  let bytes = 0
  const lines = await eachLine(res, (l) => {
    bytes += l.length + 1
    const e = JSON.parse(l)
    seen[e.payload.i]++
    if (e.payload.i % 10_000 === 0) sample()
  })
  sample()
  expect(lines).toBe(COUNT)
  expect(seen.every((n) => n === 1)).toBe(true)
  expect(bytes).toBeGreaterThan(3 * HEAP_BOUND)
  const end = await watch.next('big', (e) => e.event === 'end')
  expect(end).toMatchObject({ stopped: null, entries: COUNT })
  console.log(`export of ${COUNT} entries (${(bytes / 1e6).toFixed(0)} MB): live heap + buffers growth peak ${((peak - base) / 1e6).toFixed(1)} MB`)
  expect(peak - base).toBeLessThan(HEAP_BOUND)
}, 180_000)
