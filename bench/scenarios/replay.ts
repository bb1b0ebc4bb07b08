/**
 * Scenario 4: replay throughput. Segments are generated straight in the file format (64 MiB
 * each, like the default rotateSize) before timing; the timed part is one replay() call,
 * the standalone entry point a cron job uses (replay lock, seal, checkpoints, removal).
 *
 *   noop      no-op handler; also measures the bare loop (below) in the same process first
 *   retries1  no-op handler with `retries: 1` (in-place retries armed, never needed)
 *   fail10    every 10th item throws: re-logged with attempt + 1 into a replayer segment
 *   gzip      same as noop, from gzip segments (as written with `compress: true`)
 *   conc8     concurrency 8, handler awaits a 1 ms timer (fewer items: this one is timer-bound)
 *   sparse    noop with checkpointEvery 100,000: how much of the noop time is checkpoint I/O
 *   idle      1M items deferred an hour, nothing due: a run with segment metadata (skips
 *             them) against the same run without it (reads and carries every item forward)
 *   otel      every item carries a traceparent; the OpenTelemetry SDK is registered with a
 *             BatchSpanProcessor and an exporter that drops everything: replay with process
 *             spans against the same replay with `trace: false`, alternating in this process
 *
 * The bare loop is the floor any replay stands on: readSync into a 4 MiB buffer,
 * indexOf(10), utf8Slice, JSON.parse, call a function. Every replay row of one bench run
 * prints its ratio to it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'
import { replay, type ReplaySummary } from '../../src/replay/index.js'
import { type Row, QUICK, fail, now, orderPool, perSec, report, rmScratch, scratchDir, writeSegments, medianBy } from '../lib/common.js'

const GROUP = '4. replay throughput'
const BARE = 'bare loop'

async function gzipAll(files: string[]): Promise<void> {
  for (const f of files) {
    await pipeline(fs.createReadStream(f), zlib.createGzip(), fs.createWriteStream(`${f}.gz`, { mode: 0o600 }))
    fs.unlinkSync(f)
  }
}

function itemsFor(kind: string): number {
  if (kind === 'conc8') return QUICK ? 4_000 : 20_000
  if (kind === 'otel') return QUICK ? 50_000 : 300_000
  return QUICK ? 100_000 : 1_000_000
}

function segmentsFor(dir: string, items: number): string[] {
  const pool = orderPool('120B')
  return writeSegments(dir, 'bench', pool, items)
}

/** The floor: the least any reader of these files must do per line. */
function bareLoop(files: string[]): { items: number; ms: number; cpuUs: number } {
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024)
  // Buffer's own (untyped) UTF-8 decoder: what toString('utf8', s, e) ends in, minus its checks.
  const b8 = buf as unknown as { utf8Slice(s: number, e: number): string }
  let items = 0
  let sink = 0
  const use = (v: unknown) => {
    if (v !== null) sink++
  }
  const c0 = process.cpuUsage()
  const t0 = now()
  for (const f of files) {
    const fd = fs.openSync(f, 'r')
    let pos = 0
    let keep = 0
    for (;;) {
      const n = fs.readSync(fd, buf, keep, buf.length - keep, pos)
      if (n === 0) break
      pos += n
      const end = keep + n
      let i = 0
      for (let nl = buf.indexOf(10, i); nl !== -1 && nl < end; nl = buf.indexOf(10, i)) {
        use(JSON.parse(b8.utf8Slice(i, nl)))
        items++
        i = nl + 1
      }
      keep = end - i
      buf.copy(buf, 0, i, end)
    }
    fs.closeSync(fd)
  }
  const ms = now() - t0
  const c = process.cpuUsage(c0)
  if (sink !== items) throw new Error('bare loop lost items')
  return { items, ms, cpuUs: c.user + c.system }
}

const LABEL: Record<string, string> = {
  noop: 'no-op handler',
  retries1: 'no-op handler, retries: 1',
  fail10: '10% of items fail (re-logged)',
  gzip: 'no-op handler, gzip segments',
  conc8: 'concurrency 8, 1 ms async handler',
  sparse: 'no-op handler, checkpointEvery 100,000 (diagnostic)',
}

async function run(kind: string): Promise<Row[]> {
  const items = itemsFor(kind)
  const dir = scratchDir('replay')
  const rows: Row[] = []
  try {
    const logPath = path.join(dir, 'bench.log')
    let files = segmentsFor(dir, items)
    // noop, retries1: the bare loop and the replay alternate REPS times in this process;
    // medians reported, ratios from CPU time (the 2 cores are shared: wall time is not ours).
    const withBare = kind === 'noop' || kind === 'retries1'
    const reps = withBare ? REPS : 1
    const bare: Array<{ items: number; ms: number; cpuUs: number }> = []
    const runs: Array<{ ms: number; cpuUs: number; summary: ReplaySummary }> = []
    for (let rep = 0; rep < reps; rep++) {
      if (rep > 0) files = segmentsFor(dir, items)
      if (withBare) {
        if (rep === 0) bareLoop(files) // warm-up: page cache and JIT
        bare.push(bareLoop(files))
      }
      runs.push(await timedReplay(kind, logPath, files))
    }
    const b = bare.length > 0 ? medianBy(bare, (x) => x.cpuUs) : undefined
    if (b && kind === 'noop') {
      rows.push({
        group: GROUP,
        name: BARE,
        payload: '120B',
        value: perSec(b.items, b.ms),
        unit: 'items/s',
        note: `readSync into 4 MiB, indexOf(10), utf8Slice, JSON.parse, call; median of ${reps}: ${(b.ms / 1000).toFixed(2)} s, CPU ${(b.cpuUs / b.items).toFixed(2)} µs/item`,
        extra: { cpuUsPerItem: b.cpuUs / b.items },
      })
    }
    const { ms, cpuUs, summary } = medianBy(runs, (x) => x.cpuUs)
    if (summary.handled !== items) throw new Error(`${kind}: handled ${summary.handled} of ${items}`)
    const target = kind === 'noop' ? 0.8 : kind === 'retries1' ? 0.7 : undefined
    rows.push({
      group: GROUP,
      name: LABEL[kind],
      payload: '120B',
      value: perSec(items, ms),
      unit: 'items/s',
      note:
        `${items.toLocaleString('en-US')} items in ${files.length} segment(s), ${reps > 1 ? `median of ${reps}, ` : ''}${(ms / 1000).toFixed(2)} s; ` +
        `delivered ${summary.delivered}, requeued ${summary.requeued}, CPU ${(cpuUs / items).toFixed(2)} µs/item` +
        (kind === 'conc8' ? '; ceiling 8,000/s (8 × 1 ms timer), fewer items on purpose' : ''),
      compareTo: [BARE],
      extra: { cpuUsPerItem: cpuUs / items, ...(b ? { bareCpuUsPerItem: b.cpuUs / b.items } : {}), maxRssMiB: process.resourceUsage().maxRSS / 1024, ...(target !== undefined ? { bareTarget: target } : {}) },
    })
    return rows
  } finally {
    rmScratch(dir)
  }
}

const REPS = QUICK ? 1 : 3

async function timedReplay(kind: string, logPath: string, files: string[]): Promise<{ ms: number; cpuUs: number; summary: ReplaySummary }> {
  const opts =
    kind === 'conc8'
      ? { concurrency: 8 }
      : kind === 'sparse'
        ? { checkpointEvery: 100_000, checkpointInterval: 60_000 }
        : kind === 'retries1'
          ? { retries: 1 }
          : kind === 'untraced'
            ? { trace: false }
            : {}
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
  const summary = await replay(logPath, handler, opts)
  const ms = now() - t0
  const cpu = process.cpuUsage(c0)
  return { ms, cpuUs: cpu.user + cpu.system, summary }
}

/** Bytes this process read and wrote through system calls so far (Linux /proc/self/io). */
function io(): { r: number; w: number } {
  const t = fs.readFileSync('/proc/self/io', 'utf8')
  return { r: Number(/rchar: (\d+)/.exec(t)?.[1] ?? NaN), w: Number(/wchar: (\d+)/.exec(t)?.[1] ?? NaN) }
}

async function measured(fn: () => Promise<ReplaySummary>): Promise<{ ms: number; r: number; w: number; s: ReplaySummary }> {
  const i0 = io()
  const t0 = now()
  const s = await fn()
  const ms = now() - t0
  const i1 = io()
  return { ms, r: i1.r - i0.r, w: i1.w - i0.w, s }
}

async function idle(): Promise<Row[]> {
  const items = itemsFor('idle')
  const dir = scratchDir('replay-idle')
  try {
    const logPath = path.join(dir, 'bench.log')
    segmentsFor(dir, items)
    // Setup: every item fails once and is re-logged an hour out, into replayer segments with metadata.
    await replay(logPath, () => {
      throw new Error('down')
    }, { initialWait: '1h', maxWait: '2h' })
    const own = fs.readdirSync(dir).filter((f) => /^bench\.r\d{12}\.log$/.test(f))
    const deferredBytes = own.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
    const noop = () => {}
    const skip = await measured(() => replay(logPath, noop))
    // The same run without metadata: what every idle run cost before (read all, carry all forward).
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.meta')) fs.unlinkSync(path.join(dir, f))
    const full = await measured(() => replay(logPath, noop))
    if (skip.s.deferred !== items || full.s.deferred !== items) throw new Error(`idle: deferred ${skip.s.deferred} / ${full.s.deferred} of ${items}`)
    const pct = (x: number, y: number) => `${((100 * x) / y).toFixed(3)}%`
    return [
      {
        group: GROUP,
        name: 'idle run: 1M deferred, nothing due',
        payload: '120B',
        value: skip.ms,
        unit: 'ms',
        lowerIsBetter: true,
        note:
          `time ${(skip.ms / full.ms).toFixed(4)}× a full run (${full.ms.toFixed(0)} ms), ` +
          `bytes read ${(skip.r / full.r).toFixed(4)}× (${skip.r} B), bytes written ${(skip.w / full.w).toFixed(4)}× (${skip.w} B) = ` +
          `${pct(skip.w, deferredBytes)} of the ${(deferredBytes / 2 ** 20).toFixed(0)} MiB deferred (target ≤ 1%); ` +
          `${skip.s.segmentsSkipped} segment(s) skipped`,
        extra: { fullMs: full.ms, fullRead: full.r, fullWritten: full.w, read: skip.r, written: skip.w, deferredBytes },
      },
    ]
  } finally {
    rmScratch(dir)
  }
}

/** The cost of a process span per replayed item, with a registered SDK whose exporter drops everything. */
async function otel(): Promise<Row[]> {
  const { context, trace } = await import('@opentelemetry/api')
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks')
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
  let exported = 0
  const exporter = {
    export(spans: unknown[], done: (r: { code: number }) => void) {
      exported += spans.length
      done({ code: 0 })
    },
    shutdown: async () => {},
  }
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(provider)
  const items = itemsFor('otel')
  const dir = scratchDir('replay-otel')
  try {
    const logPath = path.join(dir, 'bench.log')
    const pool = orderPool('120B')
    const tp = ',"tp":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"'
    const off: Array<{ ms: number; cpuUs: number }> = []
    const on: Array<{ ms: number; cpuUs: number }> = []
    for (let rep = 0; rep < REPS + 1; rep++) {
      // The first round warms up page cache and JIT; not counted.
      const a = await timedReplay('untraced', logPath, writeSegments(dir, 'bench', pool, items, undefined, tp))
      const b = await timedReplay('otel', logPath, writeSegments(dir, 'bench', pool, items, undefined, tp))
      if (a.summary.delivered !== items || b.summary.delivered !== items) throw new Error('otel: not every item delivered')
      if (rep > 0) {
        off.push(a)
        on.push(b)
      }
    }
    await provider.forceFlush()
    const u = medianBy(off, (x) => x.cpuUs)
    const t = medianBy(on, (x) => x.cpuUs)
    const cost = (t.cpuUs - u.cpuUs) / items
    return [
      {
        group: GROUP,
        name: 'no-op handler, process spans (SDK, no-op exporter)',
        payload: '120B',
        value: perSec(items, t.ms),
        unit: 'items/s',
        note:
          `${items.toLocaleString('en-US')} items with a traceparent, median of ${REPS}: CPU ${(t.cpuUs / items).toFixed(2)} µs/item, ` +
          `${(u.cpuUs / items).toFixed(2)} µs/item with trace: false alternating in this process: ` +
          `a process span costs ${cost.toFixed(2)} µs per replayed item (${(t.cpuUs / u.cpuUs).toFixed(2)}×); ` +
          `BatchSpanProcessor defaults, ${exported.toLocaleString('en-US')} spans reached the exporter (it drops what its queue cannot hold)`,
        extra: { cpuUsPerItem: t.cpuUs / items, untracedCpuUsPerItem: u.cpuUs / items, spanCostUs: cost },
      },
    ]
  } finally {
    rmScratch(dir)
  }
}

try {
  const kind = process.argv[2]
  if (!['noop', 'retries1', 'fail10', 'gzip', 'conc8', 'sparse', 'idle', 'otel'].includes(kind)) {
    throw new Error('usage: replay.ts noop|retries1|fail10|gzip|conc8|sparse|idle|otel [--quick]')
  }
  report({ rows: kind === 'idle' ? await idle() : kind === 'otel' ? await otel() : await run(kind), notes: [] })
} catch (err) {
  fail(err)
}
