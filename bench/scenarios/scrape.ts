/**
 * Scrape cost: logCounts() (what /metrics, the overview and `stats` counts answer from) on a
 * log of 100k and 1M entries in 64 MiB segments, plus an active file and a permanent log.
 *
 *   cold        first call in a fresh process with no sidecars: reads every segment once and
 *               writes its `<segment>.meta`
 *   warm        the same process again, nothing changed (median of 30 calls)
 *   appending   the same process, 100 new entries appended to the active file between calls
 *   sidecars    a new process (memory forgotten) with the sidecars on disk: reads the active
 *               file and the sidecars, no segment data
 *
 * Warm should be milliseconds and flat between the two sizes: its cost is O(segments).
 */
import fs from 'node:fs'
import path from 'node:path'
import { forgetTails } from '../../src/store/active-tail.js'
import { forgetLogCounts, logCounts, type LogCounts } from '../../src/store/log-counts.js'
import { type Row, envelopeLine, fail, now, orderPool, rmScratch, scratchDir, writeSegments, median, reportAtTwoSizes } from '../lib/common.js'

const GROUP = 'scrape: logCounts()'

async function timed(f: () => Promise<LogCounts>): Promise<{ ms: number; c: LogCounts }> {
  const t0 = now()
  const c = await f()
  return { ms: now() - t0, c }
}

async function measure(entries: number): Promise<Row[]> {
  const pool = orderPool('120B')
  const dir = scratchDir('scrape')
  try {
    const log = path.join(dir, 'bench.log')
    const files = writeSegments(dir, 'bench', pool, entries)
    fs.writeFileSync(log, Array.from({ length: 1000 }, (_, i) => envelopeLine(1_700_000_100_000 + i, pool[i])).join(''))
    fs.writeFileSync(path.join(dir, 'permanent-bench.log'), Array.from({ length: 100 }, (_, i) => envelopeLine(1_700_000_000_000 + i, pool[i])).join(''))
    forgetLogCounts()
    forgetTails()

    const cold = await timed(() => logCounts(log))
    if (cold.c.pending !== entries + 1000) throw new Error(`counted ${cold.c.pending} of ${entries + 1000}`)
    await logCounts(log)
    const warm: number[] = []
    let warmBytes = 0
    for (let i = 0; i < 30; i++) {
      const r = await timed(() => logCounts(log))
      warm.push(r.ms)
      warmBytes += r.c.scannedBytes
    }
    const appending: number[] = []
    const batch = Array.from({ length: 100 }, (_, i) => envelopeLine(1_700_000_200_000 + i, pool[i])).join('')
    for (let i = 0; i < 30; i++) {
      fs.appendFileSync(log, batch)
      appending.push((await timed(() => logCounts(log))).ms)
    }
    const sidecars: number[] = []
    let sideBytes = 0
    for (let i = 0; i < 10; i++) {
      forgetLogCounts()
      forgetTails()
      const r = await timed(() => logCounts(log))
      sidecars.push(r.ms)
      sideBytes = r.c.scannedBytes
    }
    const label = entries >= 1_000_000 ? `${entries / 1_000_000}M entries` : `${entries / 1000}k entries`
    const seg = `${files.length} segment(s)`
    const w = median(warm)
    const row = (name: string, ms: number, note: string): Row => ({ group: GROUP, name, payload: label, value: ms, unit: 'ms', lowerIsBetter: true, note })
    return [
      row('cold (first call, writes sidecars)', cold.ms, `${seg}, ${(cold.ms / 1000).toFixed(2)} s, read ${(cold.c.scannedBytes / 2 ** 20).toFixed(0)} MiB`),
      row('warm (nothing changed)', w, `median of 30: ${w.toFixed(3)} ms, ${warmBytes} bytes read in all; warm/cold = ${(w / cold.ms).toExponential(2)}`),
      row('warm, 100 entries appended between calls', median(appending), `median of 30: ${median(appending).toFixed(3)} ms`),
      row('new process, sidecars on disk', median(sidecars), `median of 10: ${median(sidecars).toFixed(3)} ms, read ${sideBytes} bytes of segment or active-file data`),
    ]
  } finally {
    rmScratch(dir)
  }
}

try {
  await reportAtTwoSizes(
    measure,
    (ratio, [small, big]) => `scrape: warm ${big} / warm ${small} entries = ${ratio('warm (nothing changed)')} (flat = ~1×: a scrape costs O(segments), not O(entries)).`,
  )
} catch (err) {
  fail(err)
}
