/**
 * `inspect(log)`: the entries of the retry log (pending items, from each segment's
 * checkpoint on), the permanent log or the corrupt quarantine, as an async iterable.
 * Read-only (no locks; safe next to a live writer and a running replay) and bounded in
 * memory: oldest-first streams with a small read-ahead; newest-first reads the files backwards
 * from the end and stops after the page, holding at most `limit` entries (a .gz segment on the
 * way is read whole, keeping its last skip + limit matches).
 */
import { DeadLetterError } from '../base/errors.js'
import { corruptEntry, envelopeEntry, parseCorruptRecord } from '../format/entry.js'
import type { Entry, InspectIterable, InspectOptions, InspectSummary, Kind, LocalOptions } from '../format/model.js'
import type { LogPaths } from '../store/segments.js'
import { type ScanFile, type ScanItem, type ScanResult, kindFiles, scanFiles } from '../store/scan.js'
import { FILTER_KEYS, type ResolvedFilter, envelopeFields, recordFields, resolveFilter } from './filters.js'
import { checkOptions, int, oneOf } from '../base/checks.js'
import { resolveLogPath } from '../store/log-path.js'
import { type Common, abortError, common, commonChecks } from './options.js'
import { localRef } from './read-entry.js'

const checks = { ...commonChecks, kind: oneOf<Kind>('retry', 'permanent', 'corrupt'), order: oneOf('oldest', 'newest'), skip: int(0) }

/** Read-ahead of the oldest-first stream: this many entries or bytes, whichever comes first. */
const AHEAD_ENTRIES = 256
const AHEAD_BYTES = 1024 * 1024

interface InspectRun extends Common {
  paths: LogPaths
  kind: Kind
  filter: ResolvedFilter
  order: 'oldest' | 'newest'
  skip: number
}

/**
 * Errors (bad options, a missing directory) reject the first `next()`. `summary` is complete
 * once iteration has ended.
 */
export function inspect(logPath: string, options?: InspectOptions & Pick<LocalOptions, 'maxRecordSize'>): InspectIterable {
  const summary: InspectSummary = { entries: 0, skipped: 0, unparseable: 0, stopped: null, readErrors: [] }
  return {
    summary,
    [Symbol.asyncIterator]: () => entries(logPath, options, summary),
  }
}

async function* entries(logPath: string, options: InspectOptions | undefined, summary: InspectSummary): AsyncGenerator<Entry> {
  const run = await resolveRun(logPath, options)
  const files = await kindFiles(run.paths, run.kind)
  if (run.order === 'newest') yield* newestFirst(run, files, summary)
  else yield* oldestFirst(run, files, summary)
  if (run.signal?.aborted) throw abortError('inspect', run.signal)
}

async function resolveRun(logPath: string, options: InspectOptions | undefined): Promise<InspectRun> {
  const o = checkOptions('inspect', options, checks, FILTER_KEYS)
  const kind = o.kind ?? 'retry'
  const filter = resolveFilter(options, kind, Date.now())
  const order = o.order ?? 'oldest'
  if (order === 'newest' && filter.limit === undefined) {
    // Newest-first holds what a .gz segment on the way can still give (it reads forward only):
    // up to skip + limit entries; without a limit that could be the whole segment.
    throw new DeadLetterError('DLQ_INVALID_OPTION', "dlq: option `order: 'newest'` needs a `limit` (memory is bounded by skip + limit entries)")
  }
  const paths = await resolveLogPath('inspect', logPath)
  return { ...common(o), paths, kind, filter, order, skip: o.skip ?? 0 }
}

/** The entry for a scanned line when it matches; counts what cannot be read. */
function matchEntry(run: InspectRun, it: ScanItem, summary: InspectSummary): Entry | undefined {
  if (it.kind === 'unparseable') summary.unparseable++
  if (it.kind === 'record') {
    if (!run.filter.match(envelopeFields(it.env, () => it.line))) return undefined
    return envelopeEntry(run.kind, place(run, it.file, it.offset, it.line), it.env)
  }
  if (it.kind === 'line') {
    const rec = parseCorruptRecord(it.line)
    if (!rec) {
      summary.unparseable++
      return undefined
    }
    if (!run.filter.match(recordFields(rec))) return undefined
    return corruptEntry(place(run, it.file, it.offset, it.line), rec)
  }
  return undefined
}

function place(run: InspectRun, file: ScanFile, offset: number, line: string) {
  return { ref: localRef(run.kind, file.path, offset), file: file.path, offset, line }
}

/** A push-to-pull bridge: the scan pauses once the read-ahead is full and resumes as entries are taken. */
async function* oldestFirst(run: InspectRun, files: ScanFile[], summary: InspectSummary): AsyncGenerator<Entry> {
  const limit = run.filter.limit ?? Infinity
  const queue: Entry[] = []
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
    envelopes: run.kind !== 'corrupt',
    shouldStop: () => cancelled || (run.signal?.aborted ?? false),
    onItem: (it) => {
      if (summary.entries + queue.length >= limit) {
        // Something follows the last entry we may show: the listing was cut by the limit.
        summary.stopped = 'limit'
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

/**
 * Walks the files newest first, each plain one read from its end (store/reverse-lines.ts), and
 * stops one match past the page (that one only tells `stopped`): the cost follows what is
 * listed and passed over, not the size of the log. Entries go out after each file, so at most
 * `limit` are held (plus, while a .gz segment is read, its last matches).
 */
async function* newestFirst(run: InspectRun, files: ScanFile[], summary: InspectSummary): AsyncGenerator<Entry> {
  const limit = run.filter.limit!
  const page: Entry[] = []
  let matched = 0
  let taken = 0
  /** One more match, newest first; false once the listing is complete. */
  const take = (e: Entry): boolean => {
    if (matched++ < run.skip) summary.skipped++
    else if (taken < limit) {
      taken++
      page.push(e)
    } else summary.stopped = 'limit'
    return summary.stopped === null
  }
  const shouldStop = () => summary.stopped !== null || (run.signal?.aborted ?? false)
  for (let i = files.length - 1; i >= 0 && !shouldStop(); i--) {
    const file = files[i]
    const res = file.gz
      ? await lastMatchesOfGz(run, file, summary, run.skip + limit + 1 - matched, take)
      : await scanFiles([file], {
          newestFirst: true,
          maxRecordSize: run.maxRecordSize,
          envelopes: run.kind !== 'corrupt',
          shouldStop,
          onItem: (it) => {
            const e = matchEntry(run, it, summary)
            if (e) return take(e)
          },
        })
    summary.readErrors.push(...res.errors)
    for (const e of page.splice(0)) {
      if (run.signal?.aborted) return
      summary.entries++
      yield e
    }
  }
}

/**
 * A gzip segment can only be read from its start: reads it whole and hands its last `wanted`
 * matches (all the listing can still use) to `take`, newest first.
 */
async function lastMatchesOfGz(
  run: InspectRun,
  file: ScanFile,
  summary: InspectSummary,
  wanted: number,
  take: (e: Entry) => boolean,
): Promise<ScanResult> {
  const ring: Entry[] = []
  let n = 0
  const res = await scanFiles([file], {
    maxRecordSize: run.maxRecordSize,
    envelopes: run.kind !== 'corrupt',
    shouldStop: () => run.signal?.aborted ?? false,
    onItem: (it) => {
      const e = matchEntry(run, it, summary)
      if (e) ring[n++ % wanted] = e
    },
  })
  if (run.signal?.aborted) return res
  for (let k = 1; k <= Math.min(n, wanted); k++) if (!take(ring[(n - k) % wanted])) break
  return res
}
