/**
 * `dletter stats <log>`: what is waiting, how old it is and why it failed. Strictly
 * read-only: sealed segments (from their checkpoints: the prefix before is accounted for),
 * the active files as they are (a partial last line is a record being written, skipped),
 * no locks taken, nothing renamed.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import type { Envelope } from '../envelope.js'
import { inspectLock } from '../lock.js'
import { type LogPaths } from '../segments.js'
import { type CommonFlags, action, addCommonOptions, resolveLog } from './common.js'
import { parseIntArg } from './filters.js'
import { EXIT, EXIT_CODES_HELP, formatBytes, formatDuration, formatTime, guardStdoutPipe, padStart, preview, terminalSafe, warn } from './output.js'
import { Progress } from './progress.js'
import { pendingRewrite } from './rewrite.js'
import { type ScanFile, familyFiles, regularFile, scanFiles } from './scan.js'

interface StatsFlags extends CommonFlags {
  top: number
}

export function registerStats(program: Command): void {
  const cmd = program
    .command('stats')
    .summary('what is waiting in a log, how old it is and why it failed (read-only)')
    .description(
      'Summarize a log without changing anything: segments and bytes, pending retry items (due now or deferred by their backoff), an attempts histogram, the oldest and newest failure, the permanent and corrupt counts, and the most frequent failure reasons with numbers, uuids and hex ids normalized ("timeout after 3012ms" and "timeout after 2981ms" count as one). Safe next to a live writer and a running replay (counts are then a snapshot).',
    )
    .argument('<log>', 'path of the log file, as given to Logger.open')
    .option('--top <n>', 'how many reasons to list per log', parseIntArg(1), 10)
  addCommonOptions(cmd, { json: 'print the statistics as one JSON object on stdout', progress: true })
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter stats /var/lib/app/dlq/orders.log
  $ dletter stats ./dlq/orders.log --json | jq .retry.pending

${EXIT_CODES_HELP}`,
  )
  cmd.action(action(run))
}

export interface ReasonGroup {
  reason: string
  count: number
  firstSeen: number
  lastSeen: number
  example: string | null
}

export interface LogStats {
  log: string
  at: number
  writer: { running: boolean; pid: number | null }
  replay: { running: boolean; pid: number | null }
  retry: {
    sealedSegments: number
    activeBytes: number
    bytes: number
    /** Segments a replay has partly processed (read from their checkpoint). */
    checkpointed: number
    pending: number
    dueNow: number
    deferred: number
    nextDueTs: number | null
    attempts: Record<string, number>
    oldestFailureTs: number | null
    newestFailureTs: number | null
    oldestFailureAgeMs: number | null
    newestFailureAgeMs: number | null
    /** Lines the next replay will quarantine. */
    unparseable: number
    /** A record being written at the end of the active file. */
    partialTail: boolean
    reasons: ReasonGroup[]
  }
  permanent: {
    sealedSegments: number
    activeBytes: number
    bytes: number
    entries: number
    byFinal: Record<string, number>
    oldestTs: number | null
    newestTs: number | null
    unparseable: number
    reasons: ReasonGroup[]
  }
  corrupt: {
    bytes: number
    records: number
    /** Unreadable compressed segments a replay set aside (corrupt-<segment>.gz). */
    filesSetAside: number
  }
  /** A requeue or purge was killed mid-way; the next replay, requeue or purge settles it. */
  interruptedRewrite: { op: string; source: string; state: string } | null
  readErrors: Array<{ file: string; error: string }>
}

const MAX_GROUPS = 10_000
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi
const ISO_TIME = /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}\b/g
const HEX = /\b(?:0x)?[0-9a-f]{8,}\b/gi
const NUMBER = /\d+(?:\.\d+)?/g

/**
 * Collapse the variable parts of an error message so that one failure mode is one group:
 * uuids, timestamps, IPv4 addresses, long hex ids (with at least one digit and one letter, so words and plain
 * numbers are left to the other rules) and numbers.
 */
export function normalizeReason(reason: string | null): string {
  if (reason === null) return '(no reason)'
  const s = reason.length > 500 ? reason.slice(0, 500) : reason
  return s
    .replace(UUID, '<uuid>')
    .replace(ISO_TIME, '<time>')
    .replace(IPV4, '<ip>')
    .replace(HEX, (m) => (/\d/.test(m) && /[a-f]/i.test(m.replace(/^0x/i, '')) ? '<hex>' : m))
    .replace(NUMBER, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
}

class ReasonCounter {
  private readonly groups = new Map<string, ReasonGroup>()

  add(reason: string | null, ts: number): void {
    let key = normalizeReason(reason)
    // Bounded memory whatever the log: past the cap, new kinds are lumped together.
    if (!this.groups.has(key) && this.groups.size >= MAX_GROUPS) key = '(other reasons)'
    const g = this.groups.get(key)
    if (g) {
      g.count++
      if (ts < g.firstSeen) g.firstSeen = ts
      if (ts > g.lastSeen) g.lastSeen = ts
    } else {
      this.groups.set(key, { reason: key, count: 1, firstSeen: ts, lastSeen: ts, example: reason })
    }
  }

  top(n: number): ReasonGroup[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || a.firstSeen - b.firstSeen).slice(0, n)
  }
}

export async function collectStats(paths: LogPaths, opts: { top: number; progress?: Progress }): Promise<LogStats> {
  const now = Date.now()
  const [writerLock, replayLock] = await Promise.all([inspectLock(paths.writerLock), inspectLock(paths.replayLock)])
  const retryFiles = await familyFiles(paths.retry, { checkpoints: true })
  const permFiles = await familyFiles(paths.permanent, { checkpoints: false })
  const corruptSt = await regularFile(paths.corrupt)
  const corruptFiles: ScanFile[] = corruptSt
    ? [{ path: paths.corrupt, gz: false, size: corruptSt.size, active: true, start: 0, mtimeMs: corruptSt.mtimeMs }]
    : []

  const total = [...retryFiles, ...permFiles, ...corruptFiles].reduce((n, f) => n + f.size - Math.min(f.start, f.size), 0)
  let doneBefore = 0
  let items = 0
  const onProgress = (_f: ScanFile, inFile: number) => opts.progress?.update({ done: doneBefore + inFile, total, items })
  const advance = (files: ScanFile[]) => {
    doneBefore += files.reduce((n, f) => n + f.size - Math.min(f.start, f.size), 0)
  }

  const active = (files: ScanFile[]) => files.find((f) => f.active)?.size ?? 0
  const stats: LogStats = {
    log: paths.active,
    at: now,
    writer: lockState(writerLock),
    replay: lockState(replayLock),
    retry: {
      sealedSegments: retryFiles.filter((f) => !f.active).length,
      activeBytes: active(retryFiles),
      bytes: retryFiles.reduce((n, f) => n + f.size, 0),
      checkpointed: retryFiles.filter((f) => f.start > 0).length,
      pending: 0,
      dueNow: 0,
      deferred: 0,
      nextDueTs: null,
      attempts: {},
      oldestFailureTs: null,
      newestFailureTs: null,
      oldestFailureAgeMs: null,
      newestFailureAgeMs: null,
      unparseable: 0,
      partialTail: false,
      reasons: [],
    },
    permanent: {
      sealedSegments: permFiles.filter((f) => !f.active).length,
      activeBytes: active(permFiles),
      bytes: permFiles.reduce((n, f) => n + f.size, 0),
      entries: 0,
      byFinal: {},
      oldestTs: null,
      newestTs: null,
      unparseable: 0,
      reasons: [],
    },
    corrupt: { bytes: corruptSt?.size ?? 0, records: 0, filesSetAside: await countSetAside(paths) },
    interruptedRewrite: await pendingRewrite(paths),
    readErrors: [],
  }

  const r = stats.retry
  const retryReasons = new ReasonCounter()
  const attempts = new Map<number, number>()
  const res1 = await scanFiles(retryFiles, {
    onProgress,
    onItem: (it) => {
      items++
      if (it.kind === 'partial') r.partialTail = true
      else if (it.kind === 'unparseable') r.unparseable++
      else if (it.kind === 'record') {
        const env: Envelope = it.env
        r.pending++
        if (env.dueTs !== undefined && env.dueTs > now) {
          r.deferred++
          if (r.nextDueTs === null || env.dueTs < r.nextDueTs) r.nextDueTs = env.dueTs
        } else r.dueNow++
        attempts.set(env.attempt, (attempts.get(env.attempt) ?? 0) + 1)
        const first = env.firstTs ?? env.ts
        if (r.oldestFailureTs === null || first < r.oldestFailureTs) r.oldestFailureTs = first
        if (r.newestFailureTs === null || env.ts > r.newestFailureTs) r.newestFailureTs = env.ts
        retryReasons.add(env.reason, env.ts)
      }
    },
  })
  advance(retryFiles)
  r.attempts = Object.fromEntries([...attempts.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]))
  r.reasons = retryReasons.top(opts.top)
  if (r.oldestFailureTs !== null) r.oldestFailureAgeMs = now - r.oldestFailureTs
  if (r.newestFailureTs !== null) r.newestFailureAgeMs = now - r.newestFailureTs

  const p = stats.permanent
  const permReasons = new ReasonCounter()
  const res2 = await scanFiles(permFiles, {
    onProgress,
    onItem: (it) => {
      items++
      if (it.kind === 'unparseable') p.unparseable++
      else if (it.kind === 'record') {
        p.entries++
        const f = it.env.final ?? 'unknown'
        p.byFinal[f] = (p.byFinal[f] ?? 0) + 1
        if (p.oldestTs === null || it.env.ts < p.oldestTs) p.oldestTs = it.env.ts
        if (p.newestTs === null || it.env.ts > p.newestTs) p.newestTs = it.env.ts
        permReasons.add(it.env.reason, it.env.ts)
      }
    },
  })
  advance(permFiles)
  p.reasons = permReasons.top(opts.top)

  const res3 = await scanFiles(corruptFiles, {
    envelopes: false,
    onProgress,
    onItem: (it) => {
      items++
      if (it.kind !== 'partial') stats.corrupt.records++
    },
  })
  stats.readErrors = [...res1.errors, ...res2.errors, ...res3.errors]
  return stats
}

function lockState(s: Awaited<ReturnType<typeof inspectLock>>): { running: boolean; pid: number | null } {
  if (s.state === 'alive') return { running: true, pid: s.info?.pid ?? null }
  return { running: false, pid: null }
}

async function countSetAside(paths: LogPaths): Promise<number> {
  const names = await fsp.readdir(paths.dir).catch(() => [] as string[])
  return names.filter((n) => n.startsWith('corrupt-') && paths.retry.pattern.test(n.slice('corrupt-'.length))).length
}

async function run(logArg: string, flags: StatsFlags): Promise<number> {
  guardStdoutPipe()
  const log = await resolveLog(logArg, { quiet: flags.json })
  const progress = new Progress('stats', !flags.json && flags.progress !== false)
  let stats: LogStats
  try {
    stats = await collectStats(log.paths, { top: flags.top, progress })
  } finally {
    progress.stop()
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(stats) + '\n')
    return EXIT.OK
  }
  for (const e of stats.readErrors) warn(`could not read all of ${path.basename(e.file)}: ${e.error}`)
  process.stdout.write(formatStats(stats))
  return EXIT.OK
}

function ago(ts: number | null, now: number): string {
  if (ts === null) return '-'
  return `${formatTime(ts)} (${formatDuration(now - ts)} ago)`
}

function histogram(h: Record<string, number>): string[] {
  const entries = Object.entries(h)
  if (entries.length === 0) return []
  const max = Math.max(...entries.map(([, v]) => v))
  const w = Math.max(...entries.map(([k]) => k.length))
  const cw = Math.max(...entries.map(([, v]) => String(v).length))
  return entries.map(([k, v]) => `    attempt ${k.padStart(w)}  ${String(v).padStart(cw)}  ${'#'.repeat(Math.max(1, Math.round((v / max) * 40)))}`)
}

function reasonTable(title: string, groups: ReasonGroup[], width: number): string {
  if (groups.length === 0) return ''
  const cw = Math.max(5, ...groups.map((g) => String(g.count).length))
  let out = `\n${title}\n  ${'count'.padStart(cw)}  ${'first seen'.padEnd(20)}  ${'last seen'.padEnd(20)}  reason\n`
  for (const g of groups) {
    const left = `  ${padStart(g.count, cw)}  ${formatTime(g.firstSeen).padEnd(20)}  ${formatTime(g.lastSeen).padEnd(20)}  `
    out += left + preview(g.reason, Math.max(20, width - left.length)) + '\n'
  }
  return out
}

function formatStats(s: LogStats): string {
  const width = process.stdout.columns ?? 120
  const r = s.retry
  const p = s.permanent
  const proc = (x: { running: boolean; pid: number | null }) => (x.running ? `running (pid ${x.pid ?? '?'})` : 'not running')
  const segs = (n: number, activeBytes: number) => `${n} sealed segment(s)${activeBytes > 0 ? ' + active file' : ''}`
  // Reasons go through preview(), which is terminal-safe; so must every other stored string.
  let out = `log ${terminalSafe(s.log)}\n  writer: ${proc(s.writer)}; replay: ${proc(s.replay)}\n`
  out += `\nretry log: ${segs(r.sealedSegments, r.activeBytes)}, ${formatBytes(r.bytes)}${r.checkpointed > 0 ? ` (${r.checkpointed} partly replayed)` : ''}\n`
  out += `  pending         ${r.pending} item(s): ${r.dueNow} due now, ${r.deferred} deferred`
  out += r.nextDueTs !== null ? ` (next due in ${formatDuration(r.nextDueTs - s.at)})\n` : '\n'
  if (r.pending > 0) {
    out += `  attempts\n${histogram(r.attempts).join('\n')}\n`
    out += `  oldest failure  ${ago(r.oldestFailureTs, s.at)}\n`
    out += `  newest failure  ${ago(r.newestFailureTs, s.at)}\n`
  }
  if (r.unparseable > 0) out += `  unparseable     ${r.unparseable} line(s); the next replay quarantines them to the corrupt log\n`
  if (r.partialTail) out += `  (the active file ends in a record being written; not counted)\n`
  const finals = Object.entries(p.byFinal)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  out += `\npermanent log: ${segs(p.sealedSegments, p.activeBytes)}, ${formatBytes(p.bytes)}\n`
  out += `  entries         ${p.entries}${finals ? ` (${finals})` : ''}\n`
  if (p.entries > 0) out += `  oldest / newest ${formatTime(p.oldestTs ?? undefined)} / ${formatTime(p.newestTs ?? undefined)}\n`
  if (p.unparseable > 0) out += `  unparseable     ${p.unparseable} line(s)\n`
  out += `\ncorrupt log: ${s.corrupt.records} record(s), ${formatBytes(s.corrupt.bytes)}`
  out += s.corrupt.filesSetAside > 0 ? `; ${s.corrupt.filesSetAside} unreadable compressed segment(s) set aside\n` : '\n'
  if (s.interruptedRewrite) {
    const w = s.interruptedRewrite
    out += terminalSafe(`\nan interrupted ${w.op} of ${w.source} (${w.state}) is settled by the next replay, requeue or purge\n`)
  }
  out += reasonTable('top reasons, retry log', r.reasons, width)
  out += reasonTable('top reasons, permanent log', p.reasons, width)
  return out
}
