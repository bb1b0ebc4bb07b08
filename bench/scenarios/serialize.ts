/**
 * Scenario 1: serialization. Two modes, each in its own child process:
 *   ops    envelopes/s encoding into a ByteSink through the functions append() uses
 *          (encodeHeader → PayloadSerializer.write → encodeTrailer), default V8 flags;
 *   alloc  heap bytes allocated per call, for that same path and for log() itself, in a child
 *          started with a 256 MB semi-space so no scavenge runs inside a measured batch
 *          (checked with v8.GCProfiler: a batch that saw any GC is discarded and retried smaller).
 */
import path from 'node:path'
import v8 from 'node:v8'
import { encodeHeader, encodeTrailer } from '../../src/format/envelope.js'
import { Logger } from '../../src/write/logger.js'
import { compileSchema, loadSchemaCompiler, PayloadSerializer, RawPayload } from '../../src/format/serialize.js'
import { ByteSink } from '../../src/format/sink.js'
import { type PayloadSize, type Row, LoggableOrder, ORDER_SCHEMA, PAYLOAD_SIZES, QUICK, REASON, fail, gc, now, orderPool, perSec, report, rmScratch, scratchDir, median } from '../lib/common.js'

type Mode = 'Loggable' | 'schema' | 'JSON.stringify' | 'RawPayload'
const MODES: Mode[] = ['Loggable', 'schema', 'JSON.stringify', 'RawPayload']

interface Subject {
  serializer: PayloadSerializer
  payloads: unknown[]
}

function subject(mode: Mode, size: PayloadSize): Subject {
  const pool = orderPool(size)
  const serializer = new PayloadSerializer(mode === 'schema' ? compileSchema(ORDER_SCHEMA) : undefined)
  let payloads: unknown[]
  switch (mode) {
    case 'Loggable':
      payloads = pool.map((o) => new LoggableOrder(o.id, o.amount, o.tags))
      break
    case 'RawPayload':
      // Built once, as a caller holding ready-made JSON would; the constructor's validation is not timed.
      payloads = pool.map((o) => new RawPayload(JSON.stringify(o)))
      break
    default:
      payloads = pool
  }
  return { serializer, payloads }
}

/** What append() does for one record, minus the checks that cannot fail here. */
function encodeBatch(sink: ByteSink, s: Subject, n: number, clock: () => number): void {
  const { serializer, payloads } = s
  const mask = payloads.length - 1
  for (let i = 0; i < n; i++) {
    // The writer hands its sink to a write and starts over; 1000 records is a typical batch.
    if ((i & 1023) === 0) sink.len = 0
    encodeHeader(sink, clock(), 1, REASON, undefined, undefined)
    serializer.write(sink, payloads[i & mask])
    encodeTrailer(sink)
  }
}

// ------------------------------------------------------------------------------- ops/s

function opsRows(): Row[] {
  const rows: Row[] = []
  for (const size of PAYLOAD_SIZES) {
    const base = size === '120B' ? 1_000_000 : size === '1KiB' ? 300_000 : 30_000
    const capMs = QUICK ? 150 : 800
    for (const mode of MODES) {
      const s = subject(mode, size)
      const sink = new ByteSink()
      // Warm-up, which also sizes the runs: at most `base` calls or about capMs each.
      const w = Math.min(base, 20_000)
      const tw = now()
      encodeBatch(sink, s, w, Date.now)
      const n = Math.max(2_000, Math.min(QUICK ? base / 10 : base, Math.floor((w * capMs) / Math.max(1e-3, now() - tw))))
      const rates: number[] = []
      for (let r = 0; r < 3; r++) {
        const t0 = now()
        encodeBatch(sink, s, n, Date.now)
        rates.push(perSec(n, now() - t0))
      }
      rows.push({
        group: '1. serialization (encode into ByteSink, no I/O)',
        name: mode,
        payload: size,
        value: median(rates),
        unit: 'ops/s',
        note: `median of 3 × ${n.toLocaleString('en-US')}`,
      })
    }
  }
  return rows
}

// ------------------------------------------------------------------------------- alloc

interface AllocSample {
  ms: number
  bytesPerCall: number
  calls: number
  gcs: number
}

/**
 * Heap bytes allocated per call of `run(n)`: gc, read heapUsed, run, read heapUsed. Valid only
 * when no GC ran in between (otherwise the difference undercounts), which GCProfiler tells us.
 */
async function measureAlloc(run: (n: number) => void | Promise<void>, maxCalls: number, minCalls = 500): Promise<AllocSample> {
  // Budget ~96 MB of allocation per batch (well inside the 256 MB semi-space) and a few
  // hundred ms of work, whichever comes first.
  const budget = 96 * 1024 * 1024
  const timeBudgetMs = QUICK ? 150 : 500
  await run(Math.min(2_000, maxCalls)) // make sure the code is compiled and buffers have grown
  let calls = Math.min(maxCalls, 2_000)
  const probe = await once(run, calls)
  const perCallMs = probe.ms / calls
  calls = Math.min(maxCalls, Math.max(minCalls, Math.floor(timeBudgetMs / perCallMs)))
  if (probe.gcs === 0 && probe.bytesPerCall > 0) calls = Math.min(calls, Math.floor(budget / probe.bytesPerCall))
  const samples: AllocSample[] = []
  for (let attempt = 0; samples.length < 3 && attempt < 12; attempt++) {
    const s = await once(run, calls)
    if (s.gcs === 0) samples.push(s)
    else calls = Math.max(100, Math.floor(calls / 2))
  }
  if (samples.length === 0) return { ms: NaN, bytesPerCall: NaN, calls, gcs: -1 }
  samples.sort((a, b) => a.bytesPerCall - b.bytesPerCall)
  return samples[Math.floor(samples.length / 2)]
}

async function once(run: (n: number) => void | Promise<void>, calls: number): Promise<AllocSample> {
  gc()
  gc()
  const prof = new v8.GCProfiler()
  prof.start()
  const before = process.memoryUsage().heapUsed
  const t0 = now()
  await run(calls)
  const ms = now() - t0
  const after = process.memoryUsage().heapUsed
  const stats = prof.stop()
  return { ms, bytesPerCall: (after - before) / calls, calls, gcs: stats.statistics.length }
}

async function allocRows(): Promise<Row[]> {
  const rows: Row[] = []
  const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  if (!newSpace || newSpace.space_size < 256 * 1024 * 1024) {
    throw new Error(`alloc mode needs --min-semi-space-size=256 --max-semi-space-size=256 (new space is ${newSpace?.space_size} bytes)`)
  }
  const maxCalls = QUICK ? 50_000 : 200_000
  for (const size of PAYLOAD_SIZES) {
    for (const mode of MODES) {
      const s = subject(mode, size)
      const sink = new ByteSink()
      const sample = await measureAlloc((n) => encodeBatch(sink, s, n, Date.now), maxCalls)
      rows.push({
        group: '1. allocation per call (heap bytes)',
        name: `encode: ${mode}`,
        payload: size,
        value: sample.bytesPerCall,
        unit: 'B/call',
        lowerIsBetter: true,
        note: `${sample.calls.toLocaleString('en-US')} calls, ${sample.gcs === 0 ? '0 GCs' : 'GC in every attempt: invalid'}`,
      })
    }
  }
  // log() itself: the writer's own sink, real writes to a scratch file, in bursts.
  for (const size of PAYLOAD_SIZES) {
    for (const mode of MODES) {
      const dir = scratchDir('alloc')
      try {
        const s = subject(mode, size)
        const dlq = await Logger.open(path.join(dir, 'bench.log'), mode === 'schema' ? { schema: ORDER_SCHEMA } : {})
        const burst = size === '16KiB' ? 256 : 1000
        const mask = s.payloads.length - 1
        let k = 0
        const run = async (n: number) => {
          let p: Promise<void> | undefined
          for (let i = 0; i < n; i++) {
            p = dlq.log(s.payloads[k++ & mask], REASON)
            if ((i + 1) % burst === 0) await p
          }
          await p
        }
        const sample = await measureAlloc(run, maxCalls, 4 * burst)
        await dlq.close()
        rows.push({
          group: '1. allocation per call (heap bytes)',
          name: `log(): ${mode}`,
          payload: size,
          value: sample.bytesPerCall,
          unit: 'B/call',
          lowerIsBetter: true,
          ...(mode === 'Loggable' && size === '120B' ? { target: 80 } : {}),
          note: `${sample.calls.toLocaleString('en-US')} calls in bursts of ${burst}, I/O included, ${sample.gcs === 0 ? '0 GCs' : 'GC in every attempt: invalid'}`,
        })
      } finally {
        rmScratch(dir)
      }
    }
  }
  return rows
}

const mode = process.argv[2]
try {
  await loadSchemaCompiler()
  if (mode === 'ops') {
    report({ rows: opsRows(), notes: [] })
  } else if (mode === 'alloc') {
    const rows = await allocRows()
    report({
      rows,
      notes: [
        'Allocation: child with --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 (no scavenge inside a batch); ' +
          'gc() twice, process.memoryUsage().heapUsed before/after a batch sized for ~96 MB, divided by calls; a batch with any ' +
          'GC (v8.GCProfiler) is discarded and retried smaller; median of 3 valid batches. Payload objects are built before ' +
          'measuring (a pool of 1024), so figures are what the library allocates, not the caller. log() rows await the last ' +
          'promise of each burst (all share one batch promise) and include the write path amortised over the burst.',
      ],
    })
  } else {
    throw new Error(`usage: serialize.ts ops|alloc [--quick]`)
  }
} catch (err) {
  fail(err)
}
