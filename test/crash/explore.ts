/**
 * The crash-state explorer (the ALICE method, OSDI '14): run a workload in a real process
 * under strace, rebuild from the record what each file held at every point, enumerate the
 * states a power cut could leave there (states.ts), recover each in a new process the way
 * users do (recover.ts), and check the invariants against what had been acknowledged by then.
 *
 * Two checks per state. Every (crash point, choice) gets the cheap one in this process: is
 * every acknowledged record still on the disk at all (a complete line in a log file)? A state
 * failing it loses data whatever recovery does. Distinct states — all of them, or a seeded
 * sample in CI — also get the real one: materialized in a directory, recovered by a new
 * process, then every invariant checked for every crash point that can leave that state.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Rng } from '../helpers/rng.js'
import { buildRecording, type Event, type Ino, type Recording, snapshot } from './record.js'
import type { RecoveryInput, RecoveryOutcome } from './recover.js'
import { recordIds } from './log-ids.js'
import { decodeCheckpoint } from '../../src/store/checkpoint.js'
import { type Choice, type CrashState, type FileRef, Frontier, type Model } from './states.js'
import { parseTrace, runTraced } from './trace.js'
import type { Bundle } from './bundle.js'

export interface Workload {
  name: string
  /** Script under test/crash, run as `node <script> setup|run <root> …args`. */
  script: string
  args?: string[]
  /** The log, relative to the explored directory. */
  log: string
  durability: 'fsync' | 'kernel'
  compress: boolean
  /** Arguments of an untraced preparation run (`setup <root> …`), whose files count as durable. */
  setup?: string[]
  /** Ids a COMMIT covered come from the database traffic (ship). */
  idPattern?: RegExp
  /** Deliveries of one item allowed across one power cut (before it plus by recovery). */
  maxDeliveries: number
  /** After recovery an item is in the retry log (delivered by recovery) or the permanent log, never both. */
  exactlyOneLog?: boolean
  /** 'kernel' durability: acknowledged records may be lost (counted, not a violation). */
  lossAllowed?: boolean
}

export interface ExploreOptions {
  models: Model[]
  seed: number
  /** Random choices per crash point, on top of the fixed ones. */
  random: number
  /** Distinct states recovered per model; undefined: every one. */
  budget?: number
  concurrency: number
  /** Where the explored directory, the record and the recovered states go. */
  work: string
  bundle: Bundle
  env?: NodeJS.ProcessEnv
  recoveryTimeoutMs?: number
  /** Recover only the distinct states this picks (before the budget applies). */
  select?: (state: CrashState, content: (ref: FileRef) => Buffer) => boolean
}

export interface Violation {
  invariant: string
  /** The crash point: events [0, k) had returned; `after` is event k-1. */
  k: number
  after: string
  choice: string
  detail: string
}

export interface ModelReport {
  model: Model
  crashPoints: number
  /** (crash point, choice) pairs checked on disk. */
  statesChecked: number
  distinctStates: number
  recovered: number
  violations: Violation[]
  /** How many (crash point, choice) pairs broke each invariant. */
  counts: Record<string, number>
  /** Deliveries of one item across the crash, at most (recovered states). */
  maxDeliveries: number
  /** 'kernel': most acknowledged records a single recovered state lost… */
  maxLost: number
  statesLosing: number
  /** …and a single state no longer held on disk (every state checked). */
  maxMissingOnDisk: number
}

export interface Report {
  workload: string
  events: number
  acked: number
  /** Ids the trace shows committed to the database. */
  committed: number
  models: ModelReport[]
}

const KEEP_EXAMPLES = 5

interface Marks {
  /** Event index of the first `ack` of each id. */
  ackAt: Map<string, number>
  /** Event indices of `dlv` marks per id. */
  dlvAt: Map<string, number[]>
  commitAt: Map<string, number>
}

function marksOf(rec: Recording): Marks {
  const m: Marks = { ackAt: new Map(), dlvAt: new Map(), commitAt: new Map() }
  for (const ev of rec.events) {
    if (ev.kind === 'mark' && ev.tag === 'ack' && !m.ackAt.has(ev.id)) m.ackAt.set(ev.id, ev.i)
    if (ev.kind === 'mark' && ev.tag === 'dlv') m.dlvAt.set(ev.id, [...(m.dlvAt.get(ev.id) ?? []), ev.i])
    if (ev.kind === 'commit') for (const id of ev.ids) if (!m.commitAt.has(id)) m.commitAt.set(id, ev.i)
  }
  return m
}

const before = (at: number | undefined, k: number) => at !== undefined && at < k
const deliveredBefore = (m: Marks, id: string, k: number) => (m.dlvAt.get(id) ?? []).filter((i) => i < k).length

/** Run the workload (setup untraced, then traced) and read its record. */
export async function record(w: Workload, o: ExploreOptions): Promise<Recording> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(o.work, 'root-')))
  const env = { ...process.env, ...o.env, UV_USE_IO_URING: '0' }
  const script = o.bundle.path(w.script)
  if (w.setup) await runPlain(['node', script, 'setup', root, ...w.setup], env)
  const snap = snapshot(root)
  const traceFile = path.join(o.work, `${w.name}.strace`)
  const stdoutFile = path.join(o.work, `${w.name}.stdout`)
  const run = await runTraced(['node', script, 'run', root, ...(w.args ?? [])], {
    traceFile,
    stdoutFile,
    cwd: o.work,
    env,
    sockets: w.idPattern !== undefined,
    timeoutMs: 300_000,
  })
  if (run.code !== 0) throw new Error(`workload ${w.name} failed under strace (${run.code ?? run.signal}): ${run.stderr.slice(-2000)}`)
  const calls = parseTrace(fs.readFileSync(traceFile, 'utf8'))
  return buildRecording(calls, snap, { root, stdoutFile, cwd: o.work, ...(w.idPattern ? { idPattern: w.idPattern } : {}) })
}

function runPlain(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(-2000)}`))))
  })
}

/** Names for events in reports: the inode's path as last seen. */
function describer(rec: Recording): (ev: Event | undefined) => string {
  const names = new Map<Ino, string>()
  for (const [p, ino] of rec.initialNames) names.set(ino, p)
  const rel = (p: string) => path.relative(rec.root, p) || '.'
  const label = new Map<number, string>()
  for (const ev of rec.events) {
    let s: string
    switch (ev.kind) {
      case 'write':
        s = `write ${ev.data.length} B at ${ev.off} to ${rel(names.get(ev.ino) ?? `inode ${ev.ino}`)}`
        break
      case 'trunc':
        s = `truncate ${rel(names.get(ev.ino) ?? `inode ${ev.ino}`)} to ${ev.size}`
        break
      case 'fsync':
        s = `fsync ${ev.dir !== undefined ? `directory ${rel(ev.dir)}` : rel(names.get(ev.ino) ?? `inode ${ev.ino}`)}`
        break
      case 'syncall':
        s = 'sync'
        break
      case 'mark':
        s = `${ev.tag} ${ev.id}`
        break
      case 'commit':
        s = `COMMIT of ${ev.ids.length} ids`
        break
      default:
        names.set(ev.ino, ev.to ?? ev.path)
        s = `${ev.kind} ${rel(ev.path)}${ev.to !== undefined ? ` → ${rel(ev.to)}` : ''}`
    }
    label.set(ev.i, s)
  }
  return (ev) => (ev === undefined ? 'the start' : `#${ev.i} ${label.get(ev.i)}`)
}

interface Distinct {
  state: CrashState
  /** Crash points that can leave it, with the choice that did. */
  points: Array<{ k: number; choice: string }>
  staticFail: boolean
}

export async function explore(w: Workload, o: ExploreOptions): Promise<Report> {
  const rec = await record(w, o)
  const marks = marksOf(rec)
  const describe = describer(rec)
  const report: Report = { workload: w.name, events: rec.events.length, acked: marks.ackAt.size, committed: marks.commitAt.size, models: [] }
  for (const model of o.models) report.models.push(await exploreModel(w, o, rec, marks, describe, model))
  return report
}

async function exploreModel(
  w: Workload,
  o: ExploreOptions,
  rec: Recording,
  marks: Marks,
  describe: (ev: Event | undefined) => string,
  model: Model,
): Promise<ModelReport> {
  const rng = new Rng(o.seed)
  const f = new Frontier(rec, model)
  const r: ModelReport = {
    model,
    crashPoints: rec.events.length + 1,
    statesChecked: 0,
    distinctStates: 0,
    recovered: 0,
    violations: [],
    counts: {},
    maxDeliveries: 0,
    maxLost: 0,
    statesLosing: 0,
    maxMissingOnDisk: 0,
  }
  const violate = (invariant: string, k: number, choice: string, detail: string) => {
    r.counts[invariant] = (r.counts[invariant] ?? 0) + 1
    if (r.violations.filter((v) => v.invariant === invariant).length < KEEP_EXAMPLES) {
      r.violations.push({ invariant, k, after: describe(rec.events[k - 1]), choice, detail })
    }
  }
  const distinct = new Map<string, Distinct>()
  const onDisk = new Map<string, Set<string>>()
  const idsOf = (s: CrashState) => {
    let ids = onDisk.get(s.key)
    if (!ids) onDisk.set(s.key, (ids = idsOnDisk(f, s)))
    return ids
  }
  const uncovered = new Map<string, Uncovered[]>()
  const gone = goneAt(rec)
  for (;;) {
    const k = f.k
    for (const choice of f.choices(rng, o.random)) {
      const state = f.build(choice)
      r.statesChecked++
      let d = distinct.get(state.key)
      if (!d) distinct.set(state.key, (d = { state, points: [], staticFail: false }))
      d.points.push({ k, choice: choiceText(choice) })
      const ids = idsOf(state)
      const missing: string[] = []
      for (const [id, at] of marks.ackAt) {
        if (at < k && !ids.has(id) && deliveredBefore(marks, id, k) === 0 && !before(marks.commitAt.get(id), k)) missing.push(id)
      }
      let u = uncovered.get(state.key)
      if (!u) uncovered.set(state.key, (u = uncoveredOutputs(f, state)))
      // An output a later run consumed (unlinked) on purpose has had its items accounted for.
      const bad = u.filter((x) => !before(gone.get(x.file), k))
      if (bad.length > 0) {
        const x = bad[0]!
        violate('checkpoint covers an output that is not there', k, choiceText(choice), `${path.basename(x.checkpoint)} names ${path.basename(x.file)} at ${x.need} bytes; it has ${x.have ?? 'no file'}`)
      }
      if (missing.length > 0) {
        d.staticFail = true
        r.maxMissingOnDisk = Math.max(r.maxMissingOnDisk, missing.length)
        if (!w.lossAllowed) violate('acknowledged record not on disk', k, choiceText(choice), `${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`)
      }
    }
    if (f.done) break
    f.advance()
  }
  r.distinctStates = distinct.size
  const all = [...distinct.values()].filter((d) => o.select?.(d.state, (ref) => f.content(ref)) ?? true)
  const chosen = o.budget === undefined ? all : sample(all, o.budget, new Rng(o.seed ^ 0x5eed))
  await pool(chosen, o.concurrency, async (d, n) => {
    const outcome = await recoverState(w, o, f, d.state, `${model}-${n}`)
    r.recovered++
    checkOutcome(w, marks, d, outcome, r, violate)
  })
  return r
}

function choiceText(c: Choice): string {
  return `${c.label}${c.undo.length > 0 ? ` (undo #${c.undo.join(',#')})` : ''}${c.data === 'lose' ? ', unsynced data lost' : ''}${c.per ? `, ${[...c.per].map(([ino, p]) => `inode ${ino}: ${p.n} ops${p.cut !== undefined ? ` + ${p.cut} B` : ''}`).join('; ')}` : ''}`
}

/** Ids of complete records in files recovery treats as the log's (not temps it deletes, not the quarantine). */
const fileIds = new WeakMap<Frontier, Map<string, string[]>>()

function idsOnDisk(f: Frontier, s: CrashState): Set<string> {
  let cache = fileIds.get(f)
  if (!cache) fileIds.set(f, (cache = new Map()))
  const ids = new Set<string>()
  const journal = [...s.files].find(([p]) => /\/\.[^/]+\.rewrite$/.test(p))
  const committed = journal !== undefined && f.content(journal[1]).toString('utf8').includes('"committed"')
  for (const [p, ref] of s.files) {
    const n = path.basename(p)
    if (n.startsWith('corrupt-') || n.endsWith('.gz.tmp') || n.endsWith('.state') || n.endsWith('.meta') || /\.lock|\.tmp$/.test(n)) {
      if (!(committed && /\.rewrite-(retry|permanent)\.tmp$/.test(n))) continue
    }
    const gz = n.endsWith('.gz')
    const key = `${gz}:${ref.ino}:${ref.n}:${ref.cut ?? ''}`
    let got = cache.get(key)
    if (!got) cache.set(key, (got = recordIds(f.content(ref), gz)))
    for (const id of got) ids.add(id)
  }
  return ids
}

interface Uncovered {
  checkpoint: string
  file: string
  need: number
  have: number | undefined
}

/** Output files a readable checkpoint (of a segment still there) names at a size they do not reach. */
function uncoveredOutputs(f: Frontier, s: CrashState): Uncovered[] {
  const out: Uncovered[] = []
  for (const [p, ref] of s.files) {
    if (!p.endsWith('.state')) continue
    const seg = p.slice(0, -'.state'.length)
    if (!s.files.has(seg) && !s.files.has(`${seg}.gz`)) continue
    const read = decodeCheckpoint(f.content(ref), path.basename(seg))
    if (read.status !== 'ok') continue
    for (const m of read.checkpoint.outputs ?? []) {
      if (m.size === 0) continue
      const file = path.join(path.dirname(p), m.file)
      const r = s.files.get(file)
      const have = r === undefined ? undefined : f.content(r).length
      if (have === undefined || have < m.size) out.push({ checkpoint: p, file, need: m.size, have })
    }
  }
  return out
}

/** Event index at which each path was first unlinked or renamed away. */
function goneAt(rec: Recording): Map<string, number> {
  const m = new Map<string, number>()
  for (const ev of rec.events) {
    if ((ev.kind === 'unlink' || ev.kind === 'rename') && !m.has(ev.path)) m.set(ev.path, ev.i)
  }
  return m
}

function sample<T extends { staticFail: boolean }>(all: T[], budget: number, rng: Rng): T[] {
  // States that already fail on disk first (a few), then a seeded shuffle of the rest.
  const failing = all.filter((d) => d.staticFail).slice(0, Math.max(1, Math.floor(budget / 5)))
  const rest = all.filter((d) => !failing.includes(d))
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    ;[rest[i], rest[j]] = [rest[j]!, rest[i]!]
  }
  return [...failing, ...rest].slice(0, budget)
}

async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        await fn(items[i]!, i)
      }
    }),
  )
}

/** Write a state into a fresh directory (the explored directory's path mapped onto it). */
export function materialize(f: Frontier, s: CrashState, target: string): void {
  const root = f.rec.root
  const map = (p: string) => path.join(target, path.relative(root, p))
  for (const d of [...s.dirs].sort((a, b) => a.length - b.length)) fs.mkdirSync(map(d), { recursive: true, mode: 0o700 })
  const written = new Map<Ino, string>()
  for (const [p, ref] of s.files) {
    const first = written.get(ref.ino)
    if (first !== undefined) fs.linkSync(first, map(p))
    else {
      fs.writeFileSync(map(p), f.content(ref), { mode: 0o600 })
      written.set(ref.ino, map(p))
    }
  }
}

type Outcome = RecoveryOutcome | { hung: true }

async function recoverState(w: Workload, o: ExploreOptions, f: Frontier, s: CrashState, name: string): Promise<Outcome> {
  const dir = path.join(o.work, `state-${name}`)
  fs.rmSync(dir, { recursive: true, force: true })
  materialize(f, s, dir)
  const input: RecoveryInput = {
    log: path.join(dir, w.log),
    durability: w.durability,
    compress: w.compress,
    result: path.join(o.work, `result-${name}.json`),
  }
  try {
    const code = await new Promise<number | null | 'timeout'>((resolve, reject) => {
      const child = spawn('node', [o.bundle.path('recover.ts'), JSON.stringify(input)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...o.env } })
      let err = ''
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        resolve('timeout')
      }, o.recoveryTimeoutMs ?? 60_000)
      child.on('error', reject)
      child.on('exit', (code) => {
        clearTimeout(timer)
        if (code !== 0 && code !== null) reject(new Error(`recovery process exited ${code}: ${err.slice(-2000)}`))
        else resolve(code)
      })
    })
    if (code === 'timeout') return { hung: true }
    return JSON.parse(fs.readFileSync(input.result, 'utf8')) as RecoveryOutcome
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(input.result, { force: true })
  }
}

function checkOutcome(
  w: Workload,
  marks: Marks,
  d: Distinct,
  out: Outcome,
  r: ModelReport,
  violate: (invariant: string, k: number, choice: string, detail: string) => void,
): void {
  const first = d.points[0]!
  if ('hung' in out) {
    violate('recovery hung', first.k, first.choice, 'no result within the timeout')
    return
  }
  if (out.errors.length > 0) violate('recovery failed', first.k, first.choice, out.errors.join('; '))
  if (out.quarantinedComplete.length > 0) {
    violate('complete record quarantined', first.k, first.choice, `ids ${out.quarantinedComplete.slice(0, 5).join(', ')}`)
  }
  const permanent = new Set(out.permanent)
  const found = new Set([...Object.keys(out.delivered), ...out.permanent, ...out.retry])
  if (w.exactlyOneLog) {
    const both = Object.keys(out.delivered).filter((id) => permanent.has(id))
    if (both.length > 0) violate('entry in both logs', first.k, first.choice, `ids ${both.slice(0, 5).join(', ')}`)
  }
  let lostHere = 0
  for (const { k, choice } of d.points) {
    const lost: string[] = []
    for (const [id, at] of marks.ackAt) {
      if (at >= k || found.has(id) || deliveredBefore(marks, id, k) > 0 || before(marks.commitAt.get(id), k)) continue
      lost.push(id)
    }
    if (lost.length > 0) {
      lostHere = Math.max(lostHere, lost.length)
      if (!w.lossAllowed) violate('acknowledged record lost', k, choice, `${lost.length} lost after recovery, e.g. ${lost.slice(0, 5).join(', ')}`)
    }
    for (const [id, n] of Object.entries(out.delivered)) {
      const total = n + deliveredBefore(marks, id, k)
      r.maxDeliveries = Math.max(r.maxDeliveries, total)
      if (total > w.maxDeliveries) violate('duplicates over the bound', k, choice, `${id} delivered ${total} times (bound ${w.maxDeliveries})`)
    }
  }
  if (lostHere > 0) r.statesLosing++
  r.maxLost = Math.max(r.maxLost, lostHere)
}

/** One line per model for logs and docs. */
export function summarize(rep: Report): string[] {
  return rep.models.map((m) => {
    const v = Object.entries(m.counts)
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ')
    return (
      `[crash] ${rep.workload} ${m.model}: ${rep.events} events, ${rep.acked} acknowledged, ${m.crashPoints} crash points, ` +
      `${m.statesChecked} states checked on disk (${m.distinctStates} distinct), ${m.recovered} recovered; ` +
      `max deliveries ${m.maxDeliveries}` +
      (m.maxMissingOnDisk > 0 ? `; acknowledged records gone from the disk: at most ${m.maxMissingOnDisk} in one state` : '') +
      (m.statesLosing > 0 ? `; ${m.statesLosing} recovered states lost records (at most ${m.maxLost})` : '') +
      `; violations: ${v || 'none'}`
    )
  })
}
