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
 *   replaying   the same process, a replay's checkpoint moved to another line of the oldest
 *               segment between calls (what a scrape during a replay sees)
 *
 * Warm should be milliseconds and flat between the two sizes: its cost is O(segments).
 *
 * Then /metrics while a scan runs: the real server (startServer, what `dletter serve` runs)
 * in this process over a 500k-entry log, and a client in a child process (its own event loop
 * and CPU time) that asks for the reason groups of the whole retry log (GET
 * /api/logs/<key>/groups: a full scan) and scrapes /metrics every 100 ms until the groups
 * arrive. Each run uses a fresh server (no cached groups); runs alternate between the scan
 * yielding to the event loop (src/base/time-slice.ts), not yielding, and no scan at all (scrapes
 * alone for as long: what the machine's load alone does to the latency), in this process.
 *
 *   max, p99    /metrics latency over the scrapes issued while a yielding scan ran
 *   scan time   the groups request, yielding over not yielding (medians): this process's CPU
 *               time (the server's, scrapes included), and wall time in the note
 */
import fs from 'node:fs'
import path from 'node:path'
import { type ChildProcess, spawn } from 'node:child_process'
import { startServer } from '../../src/serve/server.js'
import { setSliceMs } from '../../src/base/time-slice.js'
import { forgetTails } from '../../src/store/counts/active-tail.js'
import { forgetLogCounts, logCounts, type LogCounts } from '../../src/store/counts/log-counts.js'
import { writeCheckpoint } from '../../src/store/checkpoint.js'
import { statePathOf } from '../../src/store/segments.js'
import { QUICK, type Row, atTwoSizes, envelopeLine, fail, now, orderPool, percentile, report, rmScratch, scratchDir, writeSegments, median } from '../lib/common.js'

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
    // Line starts of the oldest segment: where a replay's checkpoints fall.
    const seg = fs.readFileSync(files[0])
    const starts = [0]
    for (let i = seg.indexOf(10); i !== -1 && i + 1 < seg.length; i = seg.indexOf(10, i + 1)) starts.push(i + 1)
    const replaying: number[] = []
    let replayBytes = 0
    for (let i = 0; i < 30; i++) {
      const line = Math.floor(((i + 1) * starts.length) / 32) + 17
      await writeCheckpoint(statePathOf(files[0]), { segment: path.basename(files[0]), offset: starts[line], items: line, updatedAt: 0 }, 0o600)
      const r = await timed(() => logCounts(log))
      if (r.c.pending !== entries + 4000 - line) throw new Error(`replaying: counted ${r.c.pending} of ${entries + 4000 - line}`)
      replaying.push(r.ms)
      replayBytes += r.c.scannedBytes
    }
    const label = entries >= 1_000_000 ? `${entries / 1_000_000}M entries` : `${entries / 1000}k entries`
    const segs = `${files.length} segment(s)`
    const w = median(warm)
    const row = (name: string, ms: number, note: string): Row => ({ group: GROUP, name, payload: label, value: ms, unit: 'ms', lowerIsBetter: true, note })
    return [
      row('cold (first call, writes sidecars)', cold.ms, `${segs}, ${(cold.ms / 1000).toFixed(2)} s, read ${(cold.c.scannedBytes / 2 ** 20).toFixed(0)} MiB`),
      row('warm (nothing changed)', w, `median of 30: ${w.toFixed(3)} ms, ${warmBytes} bytes read in all; warm/cold = ${(w / cold.ms).toExponential(2)}`),
      row('warm, 100 entries appended between calls', median(appending), `median of 30: ${median(appending).toFixed(3)} ms`),
      row('new process, sidecars on disk', median(sidecars), `median of 10: ${median(sidecars).toFixed(3)} ms, read ${sideBytes} bytes of segment or active-file data`),
      row('warm, a replay checkpoint moved between calls', median(replaying), `median of 30: ${median(replaying).toFixed(3)} ms, ${replayBytes} bytes of segment data read in all`),
    ]
  } finally {
    rmScratch(dir)
  }
}

// ------------------------------------------------------------------ /metrics during a scan

const SCAN_GROUP = 'scrape: /metrics during a scan'
const SCAN_ENTRIES = QUICK ? 100_000 : 500_000
const SCAN_PAIRS = QUICK ? 2 : 5
const SCRAPE_EVERY_MS = 100

/** The client (node -e, IPC): one scan request, scrapes every 100 ms while it runs. */
const CLIENT = `
process.on('message', async ({ url, scan, idleMs, every }) => {
  try {
    const latencies = []
    const failures = []
    const inFlight = []
    const scrape = () => {
      const t = performance.now()
      inFlight.push(fetch(url + '/metrics').then(async (r) => {
        await r.text()
        if (r.status !== 200) throw new Error('/metrics answered ' + r.status)
        latencies.push(performance.now() - t)
      }).catch((err) => failures.push(String((err.cause && err.cause.message) || err.message))))
    }
    const t0 = performance.now()
    // No scan: scrapes alone for idleMs, the same server's latency without a scan to share with.
    const groups = scan === null ? new Promise((resolve) => setTimeout(() => resolve({ matched: null }), idleMs)) : fetch(url + scan).then(async (r) => {
      const body = await r.text()
      if (r.status !== 200) throw new Error(scan + ' answered ' + r.status + ': ' + body.slice(0, 200))
      return JSON.parse(body)
    })
    scrape()
    const timer = setInterval(scrape, every)
    const body = await groups
    const scanMs = performance.now() - t0
    clearInterval(timer)
    await Promise.all(inFlight)
    process.send({ scanMs, latencies, failures, matched: body.matched })
  } catch (err) {
    process.send({ error: String((err && err.stack) || err) + (err && err.cause ? ' (cause: ' + String(err.cause.stack || err.cause) + ')' : '') })
  }
})
`

interface ScanRun {
  scanMs: number
  /** CPU time of this process (the server) while the scan ran. */
  cpuMs: number
  latencies: number[]
  /** Scrapes that got no answer, by error. */
  failures: string[]
  matched: number
}

function ask(client: ChildProcess, msg: unknown): Promise<Omit<ScanRun, 'cpuMs'>> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the client exited (${code})`))
    client.once('exit', onExit)
    client.once('message', (m: Omit<ScanRun, 'cpuMs'> & { error?: string }) => {
      client.off('exit', onExit)
      if (m.error) reject(new Error(m.error))
      else resolve(m)
    })
    client.send(msg as object)
  })
}

/** One run on a fresh server: a scan yielding or not, or (idleMs) scrapes alone for that long. */
async function scanRun(client: ChildProcess, log: string, mode: { yielding: boolean } | { idleMs: number }): Promise<ScanRun> {
  setSliceMs('yielding' in mode && !mode.yielding ? Infinity : undefined)
  const server = await startServer({ logs: [log], port: 0 })
  try {
    // Counts computed (and their sidecars written) before the clock starts: a scrape then costs what it does in steady state.
    await fetch(`${server.url}/metrics`).then((r) => r.text())
    const cpu0 = process.cpuUsage()
    const scan = 'idleMs' in mode ? null : `/api/logs/${server.sources[0]!.key}/groups?log=retry`
    const run = await ask(client, { url: server.url, scan, idleMs: 'idleMs' in mode ? mode.idleMs : 0, every: SCRAPE_EVERY_MS })
    const cpu = process.cpuUsage(cpu0)
    if (scan !== null && run.matched !== SCAN_ENTRIES) throw new Error(`groups counted ${run.matched} of ${SCAN_ENTRIES} entries`)
    return { ...run, cpuMs: (cpu.user + cpu.system) / 1000 }
  } finally {
    await server.close()
    setSliceMs()
  }
}

async function duringScan(): Promise<Row[]> {
  const pool = orderPool('120B')
  const dir = scratchDir('scrape-scan')
  const client = spawn(process.execPath, ['-e', CLIENT], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  try {
    const log = path.join(dir, 'bench.log')
    writeSegments(dir, 'bench', pool, SCAN_ENTRIES)
    const yielding: ScanRun[] = []
    const blocking: ScanRun[] = []
    const alone: ScanRun[] = []
    for (let i = 0; i < SCAN_PAIRS; i++) {
      // Alternating, so a change in the machine's load falls on all three.
      yielding.push(await scanRun(client, log, { yielding: true }))
      blocking.push(await scanRun(client, log, { yielding: false }))
      alone.push(await scanRun(client, log, { idleMs: yielding[i]!.scanMs }))
    }
    const failed = yielding.flatMap((r) => r.failures)
    if (failed.length > 0) throw new Error(`${failed.length} scrapes failed during yielding scans: ${failed[0]}`)
    // Without yielding, a scrape can fail outright: a kept-alive connection the server closes
    // (its keep-alive timeout) on the first turn after the blocked loop, with the request unread.
    const failedBlocking = blocking.flatMap((r) => r.failures)
    const lat = yielding.flatMap((r) => r.latencies)
    const latAlone = alone.flatMap((r) => r.latencies)
    const latBlocking = blocking.flatMap((r) => r.latencies)
    const scanYield = median(yielding.map((r) => r.scanMs))
    const scanBlock = median(blocking.map((r) => r.scanMs))
    const cpuYield = median(yielding.map((r) => r.cpuMs))
    const cpuBlock = median(blocking.map((r) => r.cpuMs))
    const label = `${SCAN_ENTRIES / 1000}k entries`
    const max = Math.max(...lat)
    const p99 = percentile(lat, 0.99)
    const ms = (x: number) => `${x.toFixed(1)} ms`
    const s = (x: number) => `${(x / 1000).toFixed(2)} s`
    const without =
      `without yielding: max ${ms(Math.max(...latBlocking))}, p99 ${ms(percentile(latBlocking, 0.99))}, median ${ms(median(latBlocking))}` +
      (failedBlocking.length > 0 ? `, ${failedBlocking.length} of ${failedBlocking.length + latBlocking.length} failed (${[...new Set(failedBlocking)].join('; ')})` : '')
    return [
      {
        group: SCAN_GROUP,
        name: '/metrics latency, max',
        payload: label,
        value: max,
        unit: 'ms',
        target: 50,
        lowerIsBetter: true,
        note:
          `${ms(max)} over ${lat.length} scrapes (every ${SCRAPE_EVERY_MS} ms during ${SCAN_PAIRS} /groups scans of ${s(scanYield)}); ` +
          `with no scan running, as long: max ${ms(Math.max(...latAlone))}, p99 ${ms(percentile(latAlone, 0.99))}; ${without}`,
      },
      {
        group: SCAN_GROUP,
        name: '/metrics latency, p99',
        payload: label,
        value: p99,
        unit: 'ms',
        lowerIsBetter: true,
        note: `${ms(p99)}; median ${ms(median(lat))}; with no scan running: median ${ms(median(latAlone))}`,
      },
      {
        group: SCAN_GROUP,
        name: 'scan time, yielding / not yielding',
        payload: label,
        value: cpuYield / cpuBlock,
        unit: '×',
        target: 1.2,
        lowerIsBetter: true,
        note:
          `/groups of the whole retry log, server CPU ${s(cpuYield)} yielding, ${s(cpuBlock)} not; wall ${s(scanYield)} / ${s(scanBlock)} = ${(scanYield / scanBlock).toFixed(2)}× ` +
          `(medians of ${SCAN_PAIRS}, alternating, scrapes running in both)`,
      },
    ]
  } finally {
    client.kill()
    rmScratch(dir)
  }
}

try {
  const sizes = await atTwoSizes(
    measure,
    (ratio, [small, big]) => `scrape: warm ${big} / warm ${small} entries = ${ratio('warm (nothing changed)')} (flat = ~1×: a scrape costs O(segments), not O(entries)).`,
  )
  const scan = await duringScan()
  report({
    rows: [...sizes.rows, ...scan],
    notes: [
      ...sizes.notes,
      'scrape during a scan: max /metrics latency ≤ 50 ms while a full scan runs in the same process, and the scan at most 1.2× its time without yielding.',
    ],
  })
} catch (err) {
  fail(err)
}
