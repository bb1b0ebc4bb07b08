/**
 * `inspect(log)`: the entries of the retry log (pending items, from each segment's
 * checkpoint on), the permanent log or the corrupt quarantine, as an async iterable.
 * Read-only (no locks; safe next to a live writer and a running replay) and bounded in
 * memory: oldest-first streams with a small read-ahead, newest-first keeps skip + limit
 * entries.
 */
import { rawPayloadOf } from '../envelope.js'
import { DeadLetterError } from '../errors.js'
import type { LogPaths } from '../store/segments.js'
import { parseCorruptRecord } from '../store/corrupt-record.js'
import { type ScanFile, type ScanItem, corruptFiles, familyFiles, scanFiles } from '../store/scan.js'
import { FILTER_KEYS, type Filterable, type ResolvedFilter, resolveFilter } from './filters.js'
import { fingerprint } from './fingerprint.js'
import { type Common, abortError, checkOptions, common, commonChecks, int, oneOf, resolveLogPath } from './options.js'
import type { InspectEntry, InspectIterable, InspectOptions, InspectSummary, LogKind } from './types.js'

const checks = { ...commonChecks, log: oneOf<LogKind>('retry', 'permanent', 'corrupt'), order: oneOf('oldest', 'newest'), skip: int(0) }

/** Read-ahead of the oldest-first stream: this many entries or bytes, whichever comes first. */
const AHEAD_ENTRIES = 256
const AHEAD_BYTES = 1024 * 1024

interface InspectRun extends Common {
  paths: LogPaths
  log: LogKind
  filter: ResolvedFilter
  order: 'oldest' | 'newest'
  skip: number
}

/**
 * Errors (bad options, a missing directory) reject the first `next()`. `summary` is complete
 * once iteration has ended.
 */
export function inspect(logPath: string, options?: InspectOptions): InspectIterable {
  const summary: InspectSummary = { entries: 0, skipped: 0, unparseable: 0, limited: false, readErrors: [] }
  return {
    summary,
    [Symbol.asyncIterator]: () => entries(logPath, options, summary),
  }
}

async function* entries(logPath: string, options: InspectOptions | undefined, summary: InspectSummary): AsyncGenerator<InspectEntry> {
  const run = await resolveRun(logPath, options)
  const files = await filesOf(run.paths, run.log)
  if (run.order === 'newest') yield* newestFirst(run, files, summary)
  else yield* oldestFirst(run, files, summary)
  if (run.signal?.aborted) throw abortError('inspect', run.signal)
}

async function resolveRun(logPath: string, options: InspectOptions | undefined): Promise<InspectRun> {
  const o = checkOptions('inspect', options, checks, FILTER_KEYS)
  const log = o.log ?? 'retry'
  const filter = resolveFilter((options ?? {}) as InspectOptions, log, Date.now())
  const order = o.order ?? 'oldest'
  if (order === 'newest' && filter.limit === undefined) {
    // Newest-first keeps skip + limit entries; without a limit that is the whole log.
    throw new DeadLetterError('DLQ_INVALID_OPTION', "dlq: option `order: 'newest'` needs a `limit` (memory is bounded by skip + limit entries)")
  }
  const paths = await resolveLogPath('inspect', logPath)
  return { ...common(o), paths, log, filter, order, skip: o.skip ?? 0 }
}

function filesOf(paths: LogPaths, log: LogKind): Promise<ScanFile[]> {
  if (log === 'corrupt') return corruptFiles(paths.corrupt)
  return familyFiles(log === 'permanent' ? paths.permanent : paths.retry, { checkpoints: log === 'retry' })
}

/** The entry for a scanned line when it matches; counts what cannot be read. */
function matchEntry(run: InspectRun, it: ScanItem, summary: InspectSummary): InspectEntry | undefined {
  if (it.kind === 'unparseable') summary.unparseable++
  if (it.kind === 'record') {
    const env = it.env
    const f: Filterable = { ts: env.ts, reason: env.reason, id: env.id, attempt: env.attempt, payloadText: () => rawPayloadOf(it.line, env) }
    if (!run.filter.match(f)) return undefined
    const e: InspectEntry = { log: run.log, file: it.file.path, offset: it.offset, line: it.line, ts: env.ts, attempt: env.attempt, reason: env.reason, fingerprint: fingerprint(env.reason) }
    for (const k of ['id', 'firstTs', 'dueTs', 'final', 'errorName', 'errorCode'] as const) if (env[k] !== undefined) (e as unknown as Record<string, unknown>)[k] = env[k]
    e.payload = env.payload
    return e
  }
  if (it.kind === 'line') {
    const rec = parseCorruptRecord(it.line)
    if (!rec) {
      summary.unparseable++
      return undefined
    }
    if (!run.filter.match({ ts: rec.ts, reason: rec.error, payloadText: () => rec.raw ?? '' })) return undefined
    const e: InspectEntry = { log: 'corrupt', file: it.file.path, offset: it.offset, line: it.line, ts: rec.ts, attempt: 0, reason: rec.error, fingerprint: fingerprint(rec.error) }
    for (const k of ['raw', 'rawEncoding', 'rawTruncated', 'rawFile'] as const) if (rec[k] !== undefined) (e as unknown as Record<string, unknown>)[k] = rec[k]
    if (rec.segment !== undefined || rec.offset !== undefined) e.source = { segment: rec.segment, offset: rec.offset, length: rec.length }
    return e
  }
  return undefined
}

/** A push-to-pull bridge: the scan pauses once the read-ahead is full and resumes as entries are taken. */
async function* oldestFirst(run: InspectRun, files: ScanFile[], summary: InspectSummary): AsyncGenerator<InspectEntry> {
  const limit = run.filter.limit ?? Infinity
  const queue: InspectEntry[] = []
  let queuedBytes = 0
  let matched = 0
  let finished = false
  let failure: { err: unknown } | undefined
  let cancelled = false
  let wakeConsumer: (() => void) | undefined
  let wakeProducer: (() => void) | undefined
  const wake = (w: (() => void) | undefined) => w?.()

  const producer = scanFiles(files, {
    maxRecordSize: run.maxRecordSize,
    envelopes: run.log !== 'corrupt',
    shouldStop: () => cancelled || (run.signal?.aborted ?? false),
    onItem: (it) => {
      if (summary.entries + queue.length >= limit) {
        // Something follows the last entry we may show: the listing was cut by the limit.
        summary.limited = true
        return false
      }
      const e = matchEntry(run, it, summary)
      if (!e) return
      if (matched++ < run.skip) {
        summary.skipped++
        return
      }
      queue.push(e)
      queuedBytes += e.line.length
      wake(wakeConsumer)
      if (queue.length < AHEAD_ENTRIES && queuedBytes < AHEAD_BYTES) return
      return new Promise<void>((resolve) => (wakeProducer = resolve))
    },
  }).then(
    (res) => summary.readErrors.push(...res.errors),
    (err: unknown) => (failure = { err }),
  )
  void producer.finally(() => {
    finished = true
    wake(wakeConsumer)
  })

  try {
    for (;;) {
      if (run.signal?.aborted) break
      const e = queue.shift()
      if (e) {
        queuedBytes -= e.line.length
        summary.entries++
        yield e
        if (queue.length === 0) wake(wakeProducer)
        continue
      }
      wake(wakeProducer)
      if (finished) break
      await new Promise<void>((resolve) => (wakeConsumer = resolve))
    }
  } finally {
    cancelled = true
    wake(wakeProducer)
    await producer
  }
  if (failure) throw failure.err
}

/** Keeps the last skip + limit matches in a ring, then yields them newest first. */
async function* newestFirst(run: InspectRun, files: ScanFile[], summary: InspectSummary): AsyncGenerator<InspectEntry> {
  const limit = run.filter.limit!
  const size = run.skip + limit
  const ring: InspectEntry[] = []
  let matched = 0
  const res = await scanFiles(files, {
    maxRecordSize: run.maxRecordSize,
    envelopes: run.log !== 'corrupt',
    shouldStop: () => run.signal?.aborted ?? false,
    onItem: (it) => {
      const e = matchEntry(run, it, summary)
      if (e) ring[matched++ % size] = e
    },
  })
  summary.readErrors.push(...res.errors)
  if (run.signal?.aborted) return
  summary.limited = matched > size
  summary.skipped = Math.min(run.skip, matched)
  const kept = Math.min(matched, size)
  for (let i = run.skip; i < kept && !run.signal?.aborted; i++) {
    const e = ring[(matched - 1 - i) % size]
    summary.entries++
    yield e
  }
}
