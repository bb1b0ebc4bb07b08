/**
 * `stats(log)`: what is waiting in a log, how old it is and why it failed, in the shape the
 * central store's `stats()` returns too. Strictly read-only: sealed segments (from their
 * checkpoints: the prefix before is accounted for), the active files as they are (a partial
 * last line is a record being written, skipped), no locks taken, nothing renamed.
 */
import fsp from 'node:fs/promises'
import { DeadLetterError } from '../base/errors.js'
import { ListenerGuard } from '../base/listener-guard.js'
import { parseCorruptRecord } from '../format/entry.js'
import type { Kind, KindStats, LocalStatsBackend, Progress, Stats, StatsOptions, LocalOptions } from '../format/model.js'
import { inspectLock } from '../store/lock.js'
import { logCounts } from '../store/counts/log-counts.js'
import type { LogPaths } from '../store/segments.js'
import { pendingRewrite } from '../store/journal.js'
import { type ScanFile, type ScanItem, kindFiles, regularFile, scanFiles } from '../store/scan.js'
import { bool, checkOptions, fn, int } from '../base/checks.js'
import { resolveLogPath } from '../store/log-path.js'
import { FILTER_KEYS, type ResolvedFilter, envelopeFields, recordFields, resolveFilter } from './filters.js'
import { type Common, abortError, common, commonChecks } from './options.js'
import { ReasonCounter } from '../format/reasons.js'
import { groupedReason } from '../format/lineage.js'
import { groupByCheck } from '../base/options.js'

const checks = { ...commonChecks, top: int(1), fast: bool, groupBy: groupByCheck, onProgress: fn }
const STATS_FILTER_KEYS = FILTER_KEYS.filter((k) => k !== 'limit')

export async function stats(logPath: string, options?: StatsOptions & Pick<LocalOptions, 'maxRecordSize'>): Promise<Stats> {
  const o = checkOptions('stats', options, checks, STATS_FILTER_KEYS)
  const filter = resolveFilter(options, undefined, Date.now())
  if (o.fast && filter.narrows) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', 'dlq: stats() option `fast` counts from kept metadata, which knows no reasons, ids or payloads: drop `fast` to count entries matching a filter')
  }
  const paths = await resolveLogPath('stats', logPath)
  // Read-only as it is, a stats call must not fail because its progress callback threw.
  const warnings: string[] = []
  const guard = new ListenerGuard((message) => warnings.push(message))
  const run = { ...common(o), top: o.top ?? 10, groupBy: o.groupBy ?? 'last', filter, onProgress: guard.wrap('onProgress', o.onProgress as ((p: Progress) => void) | undefined) }
  if (run.signal?.aborted) throw abortError('stats', run.signal)
  const result = o.fast ? await fastStats(paths, run) : await collectStats(paths, run)
  if (run.signal?.aborted) throw abortError('stats', run.signal)
  guard.flush()
  result.warnings.push(...warnings)
  return result
}

interface StatsRun extends Common {
  top: number
  groupBy: 'first' | 'last'
  filter: ResolvedFilter
  onProgress?: (p: Progress) => void
}

type Files = Record<Kind, ScanFile[]>

async function listFiles(paths: LogPaths): Promise<Files> {
  return { retry: await kindFiles(paths, 'retry'), permanent: await kindFiles(paths, 'permanent'), corrupt: await kindFiles(paths, 'corrupt') }
}

const unread = (files: ScanFile[]) => files.reduce((n, f) => n + f.size - Math.min(f.start, f.size), 0)

async function collectStats(paths: LogPaths, run: StatsRun): Promise<Stats> {
  const files = await listFiles(paths)
  const { stats, backend } = await emptyStats(paths, files, Date.now())
  // Bytes done over all three scans, for one progress figure.
  const total = unread(files.retry) + unread(files.permanent) + unread(files.corrupt)
  let doneBefore = 0
  let items = 0
  const scan = async (list: ScanFile[], onItem: (it: ScanItem) => void, envelopes = true) => {
    const res = await scanFiles(list, {
      maxRecordSize: run.maxRecordSize,
      envelopes,
      onProgress: (_f, inFile) => run.onProgress?.({ done: doneBefore + inFile, total, items }),
      shouldStop: () => run.signal?.aborted ?? false,
      onItem: (it) => {
        items++
        onItem(it)
      },
    })
    doneBefore += unread(list)
    backend.readErrors.push(...res.errors)
  }
  const match = run.filter.match
  const retry = new Tally(stats.retry)
  const attempts = new Map<number, number>()
  await scan(files.retry, (it) => {
    if (it.kind === 'partial') backend.retry.partialTail = true
    else if (it.kind === 'unparseable') backend.retry.unparseable++
    else if (it.kind === 'record' && match(envelopeFields(it.env, () => it.line))) {
      const env = it.env
      retry.add(groupedReason(env, run.groupBy), env.ts, env.firstTs ?? env.ts)
      const r = stats.retry
      if (env.dueTs !== undefined && env.dueTs > stats.at) {
        r.deferred++
        if (r.nextDueTs === null || env.dueTs < r.nextDueTs) r.nextDueTs = env.dueTs
      } else r.due++
      attempts.set(env.attempt, (attempts.get(env.attempt) ?? 0) + 1)
    }
  })
  retry.finish(run.top)
  stats.retry.attempts = Object.fromEntries([...attempts.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]))
  const permanent = new Tally(stats.permanent)
  await scan(files.permanent, (it) => {
    if (it.kind === 'unparseable') backend.permanent.unparseable++
    else if (it.kind === 'record' && match(envelopeFields(it.env, () => it.line))) {
      permanent.add(groupedReason(it.env, run.groupBy), it.env.ts, it.env.firstTs ?? it.env.ts)
      const f = it.env.final ?? 'unknown'
      stats.permanent.byFinal[f] = (stats.permanent.byFinal[f] ?? 0) + 1
    }
  })
  permanent.finish(run.top)
  const corrupt = new Tally(stats.corrupt)
  await scan(
    files.corrupt,
    (it) => {
      if (it.kind === 'partial') return
      // A line that is no record at all still counts, as long as no filter asks about it.
      const rec = it.kind === 'line' ? parseCorruptRecord(it.line) : undefined
      if (rec ? match(recordFields(rec)) : !run.filter.narrows) corrupt.add(rec?.error ?? null, rec?.ts ?? NaN, rec?.ts ?? NaN)
    },
    false,
  )
  corrupt.finish(run.top)
  return stats
}

/** One kind's count, times and reason groups. */
class Tally {
  private readonly reasons = new ReasonCounter()

  constructor(private readonly k: KindStats) {}

  add(reason: string | null, ts: number, first: number): void {
    const k = this.k
    k.count++
    // A quarantine record without a usable time (NaN) counts, but has no time to show.
    if (!Number.isFinite(ts)) return
    if (k.oldestTs === null || first < k.oldestTs) k.oldestTs = first
    if (k.newestTs === null || ts > k.newestTs) k.newestTs = ts
    this.reasons.add(reason, ts)
  }

  finish(top: number): void {
    this.k.reasons = this.reasons.top(top)
  }
}

/**
 * The counts from logCounts (segment metadata, checkpoints, incrementally counted active
 * files) instead of a scan. What only a scan can tell (reasons, attempts, newest times,
 * unparseable lines) is left empty; `exact` says which counts are exact.
 */
async function fastStats(paths: LogPaths, run: StatsRun): Promise<Stats> {
  const files = await listFiles(paths)
  const { stats, backend } = await emptyStats(paths, files, Date.now())
  const c = await logCounts(paths.active, { now: stats.at, maxRecordSize: run.maxRecordSize })
  Object.assign(stats.retry, { count: c.pending, due: c.due, deferred: c.deferred, oldestTs: c.oldestPendingTs })
  stats.permanent.count = c.permanent
  stats.corrupt.count = c.corrupt
  stats.exact = { due: c.dueExact, oldestTs: c.oldestPendingTsExact }
  backend.scannedBytes = c.scannedBytes
  return stats
}

const emptyKind = (): KindStats => ({ count: 0, oldestTs: null, newestTs: null, reasons: [] })

async function emptyStats(paths: LogPaths, files: Files, now: number): Promise<{ stats: Stats; backend: LocalStatsBackend }> {
  const [writerLock, replayLock] = await Promise.all([inspectLock(paths.writerLock), inspectLock(paths.replayLock)])
  const active = (list: ScanFile[]) => list.find((f) => f.active)?.size ?? 0
  const sealed = (list: ScanFile[]) => list.filter((f) => !f.active).length
  const bytes = (list: ScanFile[]) => list.reduce((n, f) => n + f.size, 0)
  const backend: LocalStatsBackend = {
    type: 'local',
    path: paths.active,
    writer: lockState(writerLock),
    replay: { ...lockState(replayLock), operation: replayLock.state === 'alive' ? (replayLock.info?.operation ?? 'replay') : null },
    retry: {
      sealedSegments: sealed(files.retry),
      activeBytes: active(files.retry),
      bytes: bytes(files.retry),
      checkpointed: files.retry.filter((f) => f.start > 0).length,
      unparseable: 0,
      partialTail: false,
    },
    permanent: { sealedSegments: sealed(files.permanent), activeBytes: active(files.permanent), bytes: bytes(files.permanent), unparseable: 0 },
    corrupt: { bytes: (await regularFile(paths.corrupt))?.size ?? 0, filesSetAside: await countSetAside(paths) },
    interruptedRewrite: await pendingRewrite(paths),
    readErrors: [],
  }
  const stats: Stats = {
    at: now,
    retry: { ...emptyKind(), due: 0, deferred: 0, nextDueTs: null, attempts: {} },
    permanent: { ...emptyKind(), byFinal: {} },
    corrupt: emptyKind(),
    exact: null,
    warnings: [],
    backend,
  }
  return { stats, backend }
}

function lockState(s: Awaited<ReturnType<typeof inspectLock>>): { running: boolean; pid: number | null } {
  if (s.state === 'alive') return { running: true, pid: s.info?.pid ?? null }
  return { running: false, pid: null }
}

async function countSetAside(paths: LogPaths): Promise<number> {
  const names = await fsp.readdir(paths.dir).catch(() => [] as string[])
  return names.filter((n) => n.startsWith('corrupt-') && paths.retry.pattern.test(n.slice('corrupt-'.length))).length
}
