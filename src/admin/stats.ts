/**
 * `stats(log)`: what is waiting in a log, how old it is and why it failed; the object
 * `dletter stats --json` prints. Strictly read-only: sealed segments (from their checkpoints:
 * the prefix before is accounted for), the active files as they are (a partial last line is
 * a record being written, skipped), no locks taken, nothing renamed.
 */
import fsp from 'node:fs/promises'
import { ListenerGuard } from '../base/listener-guard.js'
import { inspectLock } from '../store/lock.js'
import { logCounts } from '../store/counts/log-counts.js'
import type { LogPaths } from '../store/segments.js'
import { pendingRewrite } from '../store/journal.js'
import { type ScanFile, type ScanItem, corruptFiles, familyFiles, regularFile, scanFiles } from '../store/scan.js'
import { bool, checkOptions, fn, int } from '../base/checks.js'
import { resolveLogPath } from '../store/log-path.js'
import { type Common, abortError, common, commonChecks } from './options.js'
import { ReasonCounter } from './reason-counter.js'
import type { AdminProgress, LogStats, StatsOptions } from './types.js'

const checks = { ...commonChecks, top: int(1), fast: bool, onProgress: fn }

export async function stats(logPath: string, options?: StatsOptions): Promise<LogStats> {
  const o = checkOptions('stats', options, checks)
  const paths = await resolveLogPath('stats', logPath)
  // Read-only as it is, a stats call must not fail because its progress callback threw.
  const warnings: string[] = []
  const guard = new ListenerGuard((message) => warnings.push(message))
  const run = { ...common(o), top: o.top ?? 10, onProgress: guard.wrap('onProgress', o.onProgress as ((p: AdminProgress) => void) | undefined) }
  if (run.signal?.aborted) throw abortError('stats', run.signal)
  const result = o.fast ? await fastStats(paths, run) : await collectStats(paths, run)
  if (run.signal?.aborted) throw abortError('stats', run.signal)
  guard.flush()
  result.warnings.push(...warnings)
  return result
}

interface StatsRun extends Common {
  top: number
  onProgress?: (p: AdminProgress) => void
}

interface Files {
  retry: ScanFile[]
  permanent: ScanFile[]
  corrupt: ScanFile[]
}

async function listFiles(paths: LogPaths): Promise<Files> {
  return {
    retry: await familyFiles(paths.retry, { checkpoints: true }),
    permanent: await familyFiles(paths.permanent, { checkpoints: false }),
    corrupt: await corruptFiles(paths.corrupt),
  }
}

const unread = (files: ScanFile[]) => files.reduce((n, f) => n + f.size - Math.min(f.start, f.size), 0)

/** Bytes done over all three scans, for one progress figure. */
class ProgressTracker {
  private doneBefore = 0
  items = 0

  constructor(
    private readonly total: number,
    private readonly report: ((p: AdminProgress) => void) | undefined,
  ) {}

  onProgress = (_f: ScanFile, inFile: number): void => this.report?.({ done: this.doneBefore + inFile, total: this.total, items: this.items })

  finished(files: ScanFile[]): void {
    this.doneBefore += unread(files)
  }
}

async function collectStats(paths: LogPaths, run: StatsRun): Promise<LogStats> {
  const files = await listFiles(paths)
  const stats = await emptyStats(paths, files, Date.now())
  const progress = new ProgressTracker(unread(files.retry) + unread(files.permanent) + unread(files.corrupt), run.onProgress)
  const scan = async (list: ScanFile[], onItem: (it: ScanItem) => void, envelopes = true) => {
    const res = await scanFiles(list, {
      maxRecordSize: run.maxRecordSize,
      envelopes,
      onProgress: progress.onProgress,
      shouldStop: () => run.signal?.aborted ?? false,
      onItem: (it) => {
        progress.items++
        onItem(it)
      },
    })
    progress.finished(list)
    stats.readErrors.push(...res.errors)
  }
  const retry = new RetryTally(stats)
  await scan(files.retry, retry.add)
  retry.finish(run.top)
  const permanent = new PermanentTally(stats)
  await scan(files.permanent, permanent.add)
  permanent.finish(run.top)
  await scan(
    files.corrupt,
    (it) => {
      if (it.kind !== 'partial') stats.corrupt.records++
    },
    false,
  )
  return stats
}

/**
 * The counts from logCounts (segment metadata, checkpoints, incrementally counted active
 * files) instead of a scan. What only a scan can tell (reasons, attempts, newest times,
 * unparseable lines) is left empty; `fast` says which counts are exact.
 */
async function fastStats(paths: LogPaths, run: StatsRun): Promise<LogStats> {
  const files = await listFiles(paths)
  const stats = await emptyStats(paths, files, Date.now())
  const c = await logCounts(paths.active, { now: stats.at, maxRecordSize: run.maxRecordSize })
  const r = stats.retry
  r.pending = c.pending
  r.dueNow = c.due
  r.deferred = c.deferred
  r.oldestFailureTs = c.oldestPendingTs
  if (r.oldestFailureTs !== null) r.oldestFailureAgeMs = stats.at - r.oldestFailureTs
  stats.permanent.entries = c.permanent
  stats.corrupt.records = c.corrupt
  stats.fast = { dueExact: c.dueExact, oldestPendingTsExact: c.oldestPendingTsExact, scannedBytes: c.scannedBytes }
  return stats
}

async function emptyStats(paths: LogPaths, files: Files, now: number): Promise<LogStats> {
  const [writerLock, replayLock] = await Promise.all([inspectLock(paths.writerLock), inspectLock(paths.replayLock)])
  const active = (list: ScanFile[]) => list.find((f) => f.active)?.size ?? 0
  const sealed = (list: ScanFile[]) => list.filter((f) => !f.active).length
  const bytes = (list: ScanFile[]) => list.reduce((n, f) => n + f.size, 0)
  return {
    log: paths.active,
    at: now,
    writer: lockState(writerLock),
    replay: { ...lockState(replayLock), operation: replayLock.state === 'alive' ? (replayLock.info?.operation ?? 'replay') : null },
    retry: {
      sealedSegments: sealed(files.retry),
      activeBytes: active(files.retry),
      bytes: bytes(files.retry),
      checkpointed: files.retry.filter((f) => f.start > 0).length,
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
      sealedSegments: sealed(files.permanent),
      activeBytes: active(files.permanent),
      bytes: bytes(files.permanent),
      entries: 0,
      byFinal: {},
      oldestTs: null,
      newestTs: null,
      unparseable: 0,
      reasons: [],
    },
    corrupt: { bytes: (await regularFile(paths.corrupt))?.size ?? 0, records: 0, filesSetAside: await countSetAside(paths) },
    interruptedRewrite: await pendingRewrite(paths),
    readErrors: [],
    warnings: [],
  }
}

/** Retry-log items into `stats.retry`. */
class RetryTally {
  private readonly reasons = new ReasonCounter()
  private readonly attempts = new Map<number, number>()

  constructor(private readonly stats: LogStats) {}

  add = (it: ScanItem): void => {
    const r = this.stats.retry
    if (it.kind === 'partial') r.partialTail = true
    else if (it.kind === 'unparseable') r.unparseable++
    else if (it.kind === 'record') {
      const env = it.env
      r.pending++
      if (env.dueTs !== undefined && env.dueTs > this.stats.at) {
        r.deferred++
        if (r.nextDueTs === null || env.dueTs < r.nextDueTs) r.nextDueTs = env.dueTs
      } else r.dueNow++
      this.attempts.set(env.attempt, (this.attempts.get(env.attempt) ?? 0) + 1)
      const first = env.firstTs ?? env.ts
      if (r.oldestFailureTs === null || first < r.oldestFailureTs) r.oldestFailureTs = first
      if (r.newestFailureTs === null || env.ts > r.newestFailureTs) r.newestFailureTs = env.ts
      this.reasons.add(env.reason, env.ts)
    }
  }

  finish(top: number): void {
    const r = this.stats.retry
    r.attempts = Object.fromEntries([...this.attempts.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]))
    r.reasons = this.reasons.top(top)
    if (r.oldestFailureTs !== null) r.oldestFailureAgeMs = this.stats.at - r.oldestFailureTs
    if (r.newestFailureTs !== null) r.newestFailureAgeMs = this.stats.at - r.newestFailureTs
  }
}

/** Permanent-log entries into `stats.permanent`. */
class PermanentTally {
  private readonly reasons = new ReasonCounter()

  constructor(private readonly stats: LogStats) {}

  add = (it: ScanItem): void => {
    const p = this.stats.permanent
    if (it.kind === 'unparseable') p.unparseable++
    else if (it.kind === 'record') {
      p.entries++
      const f = it.env.final ?? 'unknown'
      p.byFinal[f] = (p.byFinal[f] ?? 0) + 1
      if (p.oldestTs === null || it.env.ts < p.oldestTs) p.oldestTs = it.env.ts
      if (p.newestTs === null || it.env.ts > p.newestTs) p.newestTs = it.env.ts
      this.reasons.add(it.env.reason, it.env.ts)
    }
  }

  finish(top: number): void {
    this.stats.permanent.reasons = this.reasons.top(top)
  }
}

function lockState(s: Awaited<ReturnType<typeof inspectLock>>): { running: boolean; pid: number | null } {
  if (s.state === 'alive') return { running: true, pid: s.info?.pid ?? null }
  return { running: false, pid: null }
}

async function countSetAside(paths: LogPaths): Promise<number> {
  const names = await fsp.readdir(paths.dir).catch(() => [] as string[])
  return names.filter((n) => n.startsWith('corrupt-') && paths.retry.pattern.test(n.slice('corrupt-'.length))).length
}
