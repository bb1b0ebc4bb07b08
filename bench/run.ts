/**
 * `npm run bench [-- --quick] [-- --only=<text>]`
 *
 * Runs every scenario in its own child process (fresh heap and JIT state, its own flags, its
 * own peak RSS), one after another so they do not compete for the 2 cores, then prints one
 * table on stdout and writes the same figures as JSON to bench/results/<timestamp>.json.
 * Progress goes to stderr. Scratch files live in os.tmpdir() and are removed by each scenario.
 */
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isBuiltin } from 'node:module'
import { fileURLToPath } from 'node:url'
import { type Row, type ScenarioResult, QUICK, envelopeLine, orderPool, rmScratch, scratchDir, writeSegments } from './lib/common.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const onlyArg = process.argv.find((a) => a.startsWith('--only='))
const only = onlyArg ? onlyArg.slice('--only='.length).split(',') : undefined

// 256 MB semi-spaces: a measured allocation batch (~96 MB) never triggers a scavenge.
const ALLOC_FLAGS = ['--min-semi-space-size=256', '--max-semi-space-size=256']

interface Job {
  name: string
  script: string
  args: string[]
  flags?: string[]
  before?: () => void
  after?: () => void
}

/**
 * Children run plain JavaScript, not under tsx: tsx's loader thread alone adds ~40 MB of RSS
 * (idle node 41 MB, idle node --import tsx 81 MB on this machine), which would swamp the
 * memory scenarios. esbuild (shipped with tsx) bundles src/ and bench/ code per scenario into
 * os.tmpdir(); packages stay external, imported by absolute path from node_modules.
 */
interface Build {
  dir: string
  entry(script: string): string
  execArgv: string[]
}

async function buildScenarios(): Promise<Build> {
  const scripts = [...new Set(jobs.map((j) => j.script))]
  try {
    const esbuild = await import('esbuild')
    const dir = scratchDir('build')
    await esbuild.build({
      entryPoints: scripts.map((s) => path.join(here, 'scenarios', s)),
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'error',
      plugins: [
        {
          name: 'packages-by-absolute-path',
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, (args) => {
              if (isBuiltin(args.path)) return { path: args.path, external: true }
              return { path: fileURLToPath(import.meta.resolve(args.path)), external: true }
            })
          },
        },
      ],
    })
    return { dir, entry: (s) => path.join(dir, s.replace(/\.ts$/, '.mjs')), execArgv: [] }
  } catch (err) {
    process.stderr.write(`bench: could not bundle scenarios (${(err as Error).message}); running them under tsx (+~40 MB RSS)\n`)
    return { dir: '', entry: (s) => path.join(here, 'scenarios', s), execArgv: ['--import', 'tsx'] }
  }
}

let build: Build

function runJob(job: Job): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = fork(build.entry(job.script), [...job.args, ...(QUICK ? ['--quick'] : [])], {
      execArgv: ['--expose-gc', ...(job.flags ?? []), ...build.execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let result: ScenarioResult | undefined
    let error: string | undefined
    child.on('message', (m: { type: string; result?: ScenarioResult; message?: string }) => {
      if (m.type === 'result') result = m.result
      else if (m.type === 'error') error = m.message
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (result) resolve(result)
      else reject(new Error(`${job.name}: ${error ?? `exited with ${signal ?? code} and no result`}`))
    })
  })
}

// ------------------------------------------------------------------------------- jobs

const memReplayBytes = QUICK ? 64 * 1024 * 1024 : 1024 * 1024 * 1024
let memReplayDir: string | undefined

const jobs: Job[] = [
  { name: 'serialization ops/s', script: 'serialize.ts', args: ['ops'] },
  { name: 'serialization allocation', script: 'serialize.ts', args: ['alloc'], flags: ALLOC_FLAGS },
  { name: 'log() kernel', script: 'throughput.ts', args: ['kernel'] },
  { name: 'log() fsync', script: 'throughput.ts', args: ['fsync'] },
  { name: 'baselines', script: 'throughput.ts', args: ['baseline'] },
  { name: 'replay no-op', script: 'replay.ts', args: ['noop'] },
  { name: 'replay retries 1', script: 'replay.ts', args: ['retries1'] },
  { name: 'replay 10% failing', script: 'replay.ts', args: ['fail10'] },
  { name: 'replay gzip', script: 'replay.ts', args: ['gzip'] },
  { name: 'replay concurrency 8', script: 'replay.ts', args: ['conc8'] },
  { name: 'replay sparse checkpoints', script: 'replay.ts', args: ['sparse'] },
  { name: 'replay idle run', script: 'replay.ts', args: ['idle'] },
  { name: 'replay with OpenTelemetry spans', script: 'replay.ts', args: ['otel'] },
  { name: 'postgres ship + central replay', script: 'postgres.ts', args: [] },
  { name: 'fleet: stats and scrape at 500k and 5M rows', script: 'fleet.ts', args: ['stats'] },
  { name: 'fleet: 16 shippers', script: 'fleet.ts', args: ['ship16'] },
  { name: 'fleet: central replay 8 workers', script: 'fleet.ts', args: ['replay8'] },
  { name: 'memory: logging', script: 'memory.ts', args: ['log', String(QUICK ? 300_000 : 10_000_000)] },
  {
    name: 'memory: replaying',
    script: 'memory.ts',
    args: [],
    before() {
      // One segment of the requested size, written straight in the file format (not timed).
      memReplayDir = scratchDir('memreplay')
      const pool = orderPool('120B')
      const lineLen = Buffer.byteLength(envelopeLine(1_700_000_000_000, pool[0]))
      const count = Math.ceil(memReplayBytes / lineLen)
      writeSegments(memReplayDir, 'bench', pool, count, count)
      this.args = ['replay', memReplayDir, String(memReplayBytes)]
    },
    after() {
      if (memReplayDir) rmScratch(memReplayDir)
    },
  },
  { name: 'scrape (logCounts, /metrics during a scan)', script: 'scrape.ts', args: [] },
  { name: 'inspect newest first', script: 'inspect.ts', args: [] },
  { name: 'chart: failures over time', script: 'chart.ts', args: [] },
]

// ------------------------------------------------------------------------------- output

const RATIO_COLS = ['pino sync', 'pino async', 'raw ceiling', 'one-write floor', 'checked-write floor', 'bare loop']
const RATIO_HEADS = ['vs pino sync', 'vs pino async', 'vs raw', 'vs floor', 'vs checked', 'vs bare']
/** Targets stated as a ratio to a floor row of the same run: extra key → row name. */
const RATIO_TARGETS: Record<string, string> = { floorTarget: 'one-write floor', bareTarget: 'bare loop', rawTarget: 'raw ceiling' }
/** Floor rows compared by CPU time per item (the target rows, and the checked-write floor). */
const CPU_RATIO_ROWS = new Set([...Object.values(RATIO_TARGETS), 'checked-write floor'])

interface OutRow extends Row {
  status: '' | 'met' | 'missed'
  /** (measured / target − 1) × 100, sign flipped when lower is better: positive = better than target. */
  marginPct?: number
  ratios: Record<string, number>
  /** A target stated as a ratio to a floor row, e.g. "≥ 0.8× bare loop", and that row's name. */
  ratioTarget?: string
  ratioBase?: string
}

function fmtValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return 'n/a'
  if (unit === 'B/call') return `${v.toFixed(1)} ${unit}`
  if (unit === 'MiB') return `${v.toFixed(1)} ${unit}`
  if (unit === '×') return `${v.toFixed(2)}×`
  return `${Math.round(v).toLocaleString('en-US')} ${unit}`
}

function finish(rows: Row[]): OutRow[] {
  return rows.map((r) => {
    const out: OutRow = { ...r, status: '', ratios: {} }
    if (r.target !== undefined && Number.isFinite(r.value)) {
      const ok = r.lowerIsBetter ? r.value <= r.target : r.value >= r.target
      out.status = ok ? 'met' : 'missed'
      out.marginPct = r.lowerIsBetter ? (1 - r.value / r.target) * 100 : (r.value / r.target - 1) * 100
    }
    for (const b of r.compareTo ?? []) {
      const base = rows.find((x) => x.name === b && x.payload === r.payload)
      if (base && base.value > 0) out.ratios[b] = r.value / base.value
      // Against a floor row, CPU time per item when both have it (steadier than wall time on a
      // shared machine); a floor measured in the row's own process wins.
      const own = b === 'bare loop' ? r.extra?.bareCpuUsPerItem : b === 'raw ceiling' ? r.extra?.rawCpuUsPerItem : undefined
      const baseCpu = typeof own === 'number' ? own : base?.extra?.cpuUsPerItem
      const cpu = r.extra?.cpuUsPerItem
      if (CPU_RATIO_ROWS.has(b) && typeof baseCpu === 'number' && typeof cpu === 'number' && cpu > 0) out.ratios[b] = baseCpu / cpu
    }
    for (const [key, base] of Object.entries(RATIO_TARGETS)) {
      const want = r.extra?.[key]
      const got = out.ratios[base]
      if (typeof want !== 'number' || got === undefined) continue
      out.status = got >= want ? 'met' : 'missed'
      out.marginPct = (got / want - 1) * 100
      out.ratioTarget = `≥ ${want}× ${base}`
      out.ratioBase = base
    }
    return out
  })
}

function table(rows: OutRow[]): string {
  const head = ['scenario', 'payload', 'measured', 'target', 'status', ...RATIO_HEADS, 'notes']
  const lines: string[][] = []
  const groups: Array<[string, OutRow[]]> = []
  for (const r of rows) {
    const g = groups.find(([name]) => name === r.group)
    if (g) g[1].push(r)
    else groups.push([r.group, [r]])
  }
  const body: Array<string[] | string> = []
  for (const [name, rs] of groups) {
    body.push(name)
    for (const r of rs) {
      const status = r.status === '' ? '' : `${r.status} (${r.marginPct! >= 0 ? '+' : ''}${r.marginPct!.toFixed(0)}%)`
      const target = r.ratioTarget ?? (r.target === undefined ? '' : `${r.lowerIsBetter ? '≤' : '≥'} ${fmtValue(r.target, r.unit)}`)
      const ratio = (k: string) => (r.ratios[k] === undefined ? '' : `${r.ratios[k].toFixed(2)}×`)
      const row = ['  ' + r.name, r.payload, fmtValue(r.value, r.unit), target, status, ...RATIO_COLS.map(ratio), r.note ?? '']
      body.push(row)
      lines.push(row)
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (i === head.length - 1 ? 0 : l[i].length))))
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : i >= 2 && i < 5 + RATIO_COLS.length && i !== 3 && i !== 4 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  const out = [fmt(head), widths.map((w) => '-'.repeat(w)).join('  ') + '  -----']
  for (const b of body) out.push(typeof b === 'string' ? b : fmt(b))
  return out.join('\n')
}

interface Machine {
  nproc: number
  cpu: string
  node: string
  v8: string
  platform: string
  totalMemMiB: number
  tmpdir: string
}

function machine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown'
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) cpu = m[1]
  } catch {}
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemMiB: Math.round(os.totalmem() / 1024 / 1024),
    tmpdir: os.tmpdir(),
  }
}

// ------------------------------------------------------------------------------- main

const started = new Date()
const t0 = performance.now()
const rows: Row[] = []
const notes: string[] = [
  'Every scenario runs in its own child process (node --expose-gc, plain JS bundled by esbuild from bench/ + src/), one at a time.',
  'Peak RSS: process.resourceUsage().maxRSS of a child that runs only that case (node itself is ~40 MB; ' +
    'the child\'s idle RSS after loading is in the notes), cross-checked by sampling process.memoryUsage().rss every 50 ms.',
  'CPU µs per item in the notes is process.cpuUsage() (user + system, all threads) over the timed part: ' +
    'it moves much less than wall-clock rates when other processes share the 2 cores.',
]
const failures: string[] = []
// Every scratch directory of this run lives under one root, removed at the end whatever happened.
const scratchRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-bench-run-'))
process.env.DLQ_BENCH_TMP = scratchRoot
const cleanup = () => fs.rmSync(scratchRoot, { recursive: true, force: true })
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    cleanup()
    process.exit(130)
  })
}
const loadBefore = os.loadavg()
build = await buildScenarios()
if (build.execArgv.length > 0) notes.push('Scenarios ran under tsx (bundling failed): RSS figures include its loader thread.')
for (const job of jobs) {
  if (only && !only.some((o) => job.name.includes(o))) continue
  const jt = performance.now()
  process.stderr.write(`bench: ${job.name}${QUICK ? ' (quick)' : ''} … `)
  try {
    job.before?.()
    const res = await runJob(job)
    rows.push(...res.rows)
    for (const n of res.notes) if (!notes.includes(n)) notes.push(n)
    process.stderr.write(`${((performance.now() - jt) / 1000).toFixed(1)} s\n`)
  } catch (err) {
    failures.push((err as Error).message)
    process.stderr.write(`FAILED\n${(err as Error).message}\n`)
  } finally {
    job.after?.()
  }
}

if (build.dir) rmScratch(build.dir)
const loadAfter = os.loadavg()
const out = finish(rows)
const m = { ...machine(), loadavgBefore: loadBefore, loadavgAfter: loadAfter }
const totalS = (performance.now() - t0) / 1000
const lines: string[] = []
lines.push(`dletter bench${QUICK ? ' --quick (smoke run: smaller counts)' : ''} — ${started.toISOString()}`)
lines.push(`machine: ${m.nproc} cores, ${m.cpu}, ${m.totalMemMiB} MiB, node ${m.node} (V8 ${m.v8}), ${m.platform}, scratch in ${m.tmpdir}`)
const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ')
lines.push(`load average before ${fmtLoad(loadBefore)}, after ${fmtLoad(loadAfter)}` +
  (loadBefore[0] > 0.5 ? ' — the machine was busy when the run started: figures are lower and noisier than on an idle machine' : ''))
lines.push('')
lines.push(table(out))
lines.push('')
const targeted = out.filter((r) => r.status !== '')
lines.push(`targets: ${targeted.filter((r) => r.status === 'met').length} met, ${targeted.filter((r) => r.status === 'missed').length} missed`)
for (const r of targeted) {
  const vs = r.ratioTarget !== undefined ? `${r.ratios[r.ratioBase!]!.toFixed(2)}× vs ${r.ratioTarget}` : `${fmtValue(r.value, r.unit)} vs ${r.lowerIsBetter ? '≤' : '≥'} ${fmtValue(r.target!, r.unit)}`
  lines.push(`  ${r.status === 'met' ? 'met   ' : 'MISSED'} ${r.group} / ${r.name} [${r.payload}]: ${vs}`)
}
lines.push('')
lines.push('method:')
for (const n of notes) lines.push(`  - ${n}`)
if (failures.length > 0) {
  lines.push('')
  lines.push('FAILED scenarios:')
  for (const f of failures) lines.push(`  - ${f.split('\n')[0]}`)
}
lines.push('')
lines.push(`total ${totalS.toFixed(1)} s`)

const resultsDir = path.join(here, 'results')
fs.mkdirSync(resultsDir, { recursive: true })
const file = path.join(resultsDir, `${started.toISOString().replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}.json`)
fs.writeFileSync(file, JSON.stringify({ startedAt: started.toISOString(), quick: QUICK, totalSeconds: totalS, machine: m, method: notes, failures, rows: out }, null, 2) + '\n')
lines.push(`results: ${path.relative(process.cwd(), file)}`)
process.stdout.write(lines.join('\n') + '\n')
if (failures.length > 0) process.exitCode = 1
