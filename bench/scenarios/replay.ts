/**
 * Scenario 4: replay throughput. Segments are generated straight in the file format (64 MiB
 * each, like the default rotateSize) before timing; the timed part is one replay() call,
 * the standalone entry point a cron job uses (replay lock, seal, checkpoints, removal).
 *
 *   noop     no-op handler
 *   fail10   every 10th item throws: re-logged with attempt + 1 into a replayer segment
 *   gzip     same as noop, from gzip segments (as written with `compress: true`)
 *   conc8    concurrency 8, handler awaits a 1 ms timer (fewer items: this one is timer-bound)
 *   sparse   noop with checkpointEvery 100,000: how much of the noop time is checkpoint I/O
 */
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'
import { replay, type ReplaySummary } from '../../src/replay.js'
import { type Row, QUICK, envelopeLine, fail, now, orderPool, perSec, report, rmScratch, scratchDir, writeSegments } from '../lib/common.js'

const GROUP = '4. replay throughput'
const SEGMENT_BYTES = 64 * 1024 * 1024

async function gzipAll(files: string[]): Promise<void> {
  for (const f of files) {
    await pipeline(fs.createReadStream(f), zlib.createGzip(), fs.createWriteStream(`${f}.gz`, { mode: 0o600 }))
    fs.unlinkSync(f)
  }
}

async function run(kind: string): Promise<Row> {
  const items = kind === 'conc8' ? (QUICK ? 4_000 : 20_000) : QUICK ? 100_000 : 1_000_000
  // Diagnostic: the same no-op replay with checkpoints 100× rarer than the default, to separate
  // the cost of checkpoint I/O from the cost of reading and parsing.
  const opts = kind === 'conc8' ? { concurrency: 8 } : kind === 'sparse' ? { checkpointEvery: 100_000, checkpointInterval: 60_000 } : {}
  const pool = orderPool('120B')
  const perSegment = Math.floor(SEGMENT_BYTES / Buffer.byteLength(envelopeLine(1_700_000_000_000, pool[0])))
  const dir = scratchDir('replay')
  try {
    const logPath = path.join(dir, 'bench.log')
    const files = writeSegments(dir, 'bench', pool, items, perSegment)
    if (kind === 'gzip') await gzipAll(files)
    let n = 0
    const handler =
      kind === 'fail10'
        ? () => {
            if (++n % 10 === 0) throw new Error('still failing')
          }
        : kind === 'conc8'
          ? () => sleep(1)
          : () => {}
    const t0 = now()
    const c0 = process.cpuUsage()
    const summary: ReplaySummary = await replay(logPath, handler, opts)
    const ms = now() - t0
    const cpu = process.cpuUsage(c0)
    if (summary.handled !== items) throw new Error(`${kind}: handled ${summary.handled} of ${items}`)
    const label: Record<string, string> = {
      noop: 'no-op handler',
      fail10: '10% of items fail (re-logged)',
      gzip: 'no-op handler, gzip segments',
      conc8: 'concurrency 8, 1 ms async handler',
      sparse: 'no-op handler, checkpointEvery 100,000 (diagnostic)',
    }
    return {
      group: GROUP,
      name: label[kind],
      payload: '120B',
      value: perSec(items, ms),
      unit: 'items/s',
      note:
        `${items.toLocaleString('en-US')} items in ${files.length} segment(s), ${(ms / 1000).toFixed(2)} s; ` +
        `delivered ${summary.delivered}, requeued ${summary.requeued}, CPU ${((cpu.user + cpu.system) / items).toFixed(2)} µs/item` +
        (kind === 'conc8' ? '; ceiling 8,000/s (8 × 1 ms timer), fewer items on purpose' : ''),
      ...(kind === 'noop' ? { target: 800_000 } : {}),
      extra: { maxRssMiB: process.resourceUsage().maxRSS / 1024 },
    }
  } finally {
    rmScratch(dir)
  }
}

try {
  const kind = process.argv[2]
  if (!['noop', 'fail10', 'gzip', 'conc8', 'sparse'].includes(kind)) throw new Error('usage: replay.ts noop|fail10|gzip|conc8|sparse [--quick]')
  report({ rows: [await run(kind)], notes: [] })
} catch (err) {
  fail(err)
}
