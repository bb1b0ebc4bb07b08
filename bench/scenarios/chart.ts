/**
 * Failure charts on a local log (issue 21): a log of 1M entries (100k with --quick) in 64 MiB
 * segments plus an active file, every entry within the charted day.
 *
 *   refresh     today's background reason-group refresh on that log: `stats(log, { top: 5 })`,
 *               what the inspector's overview runs (src/serve/backend-source.ts); median of 3
 *   first       the first chart after start: a fresh failureSeries(log) read and its SVG
 *               rendered (median of 3, each in a fresh reader); target ≤ 1× refresh
 *   later       the same reader after appending 10,000 entries to the active file: cost per
 *               new byte over the first render's cost per byte (≈1×: it follows new bytes;
 *               the bytes it read are printed to show nothing else was)
 */
import fs from 'node:fs'
import path from 'node:path'
import { failureSeries, stats } from '../../src/index.js'
import { failureChart } from '../../src/serve/views/chart.js'
import { QUICK, type Row, envelopeLine, fail, median, now, orderPool, report, rmScratch, scratchDir, writeSegments } from '../lib/common.js'

const GROUP = 'chart: failures over time (local)'
const ENTRIES = QUICK ? 100_000 : 1_000_000
const APPEND = 10_000
// writeSegments' entries are at 1_700_000_000_000 + (i % 1024) ms: chart the day they are in.
const AT = 1_700_000_000_000 + 60_000

async function main(): Promise<void> {
  const pool = orderPool('120B')
  const dir = scratchDir('chart')
  try {
    const log = path.join(dir, 'bench.log')
    writeSegments(dir, 'bench', pool, ENTRIES)
    fs.writeFileSync(log, Array.from({ length: 1000 }, (_, i) => envelopeLine(1_700_000_000_500 + i, pool[i % pool.length]!)).join(''))
    const total = ENTRIES + 1000
    const refresh: number[] = []
    const first: number[] = []
    let reader = failureSeries(log)
    let firstBytes = 0
    for (let i = 0; i < 3; i++) {
      let t0 = now()
      const s = await stats(log, { top: 5 })
      refresh.push(now() - t0)
      if (s.retry.count !== total) throw new Error(`stats counted ${s.retry.count} of ${total}`)
      reader = failureSeries(log)
      t0 = now()
      const series = await reader.read({ now: AT, range: '24h' })
      const svg = failureChart(series, 'bench').toString()
      first.push(now() - t0)
      if (series.total !== total || svg.length < 100) throw new Error(`charted ${series.total} of ${total}`)
      firstBytes = reader.cost.bytesRead
    }
    const appended = Array.from({ length: APPEND }, (_, i) => envelopeLine(1_700_000_000_700 + i, pool[i % pool.length]!)).join('')
    fs.appendFileSync(log, appended)
    const before = reader.cost.bytesRead
    const t0 = now()
    const later = await reader.read({ now: AT, range: '24h' })
    failureChart(later, 'bench').toString()
    const laterMs = now() - t0
    const laterBytes = reader.cost.bytesRead - before
    if (later.total !== total + APPEND) throw new Error(`later chart counted ${later.total} of ${total + APPEND}`)
    if (laterBytes !== Buffer.byteLength(appended)) throw new Error(`later chart read ${laterBytes} bytes, appended ${Buffer.byteLength(appended)}`)
    const r = median(refresh)
    const f = median(first)
    const perByteFirst = f / firstBytes
    const perByteLater = laterMs / laterBytes
    const label = `${ENTRIES.toLocaleString('en-US')} entries`
    const rows: Row[] = [
      { group: GROUP, name: 'reason-group refresh (stats top 5)', payload: label, value: r, unit: 'ms', lowerIsBetter: true, note: `median of 3: ${refresh.map((x) => x.toFixed(0)).join(', ')} ms` },
      {
        group: GROUP,
        name: 'first chart render / refresh',
        payload: label,
        value: f / r,
        unit: '×',
        target: 1,
        lowerIsBetter: true,
        note: `first render median ${f.toFixed(0)} ms (${first.map((x) => x.toFixed(0)).join(', ')}), read ${(firstBytes / 2 ** 20).toFixed(0)} MiB`,
      },
      {
        group: GROUP,
        name: `later render after ${APPEND.toLocaleString('en-US')} appended: cost per byte / first`,
        payload: label,
        value: perByteLater / perByteFirst,
        unit: '×',
        lowerIsBetter: true,
        note: `${laterMs.toFixed(1)} ms, read ${(laterBytes / 1024).toFixed(0)} KiB (exactly the appended bytes); first: ${((perByteFirst * 2 ** 20)).toFixed(2)} ms/MiB, later: ${(perByteLater * 2 ** 20).toFixed(2)} ms/MiB`,
      },
    ]
    report({ rows, notes: [`chart: first render ${(f / r).toFixed(2)}× the reason-group refresh (target ≤ 1×); a later render reads only new bytes (${(laterBytes / 1024).toFixed(0)} KiB in ${laterMs.toFixed(1)} ms).`] })
  } finally {
    rmScratch(dir)
  }
}

main().catch(fail)
