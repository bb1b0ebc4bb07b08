/**
 * A local log as an inspector source. Counts come from logCounts (kept as the log changes:
 * O(segments), not a scan); reason groups from a background `stats()` scan; listings,
 * groups and actions from the admin functions, so the pages see and change exactly what
 * the CLI would, under the same locks.
 */
import { inspect } from '../admin/inspect.js'
import { purge } from '../admin/purge.js'
import { requeue } from '../admin/requeue.js'
import { stats } from '../admin/stats.js'
import { readEntry } from '../index.js'
import type { EntryFilter } from '../format/model.js'
import { logCounts } from '../store/counts/log-counts.js'
import { logPaths } from '../store/segments.js'
import { Background, Limiter, Memo } from './cache.js'
import { groupCounter } from './groups.js'
import { badRequest } from './http-error.js'
import { purgeText, requeueText } from './summary-text.js'
import type { ActionRequest, ActionResult, CountsSnapshot, GroupsResult, ListRequest, ReasonSummary, Source, SourceEntry, SourceFilter } from './sources.js'

const COUNTS_TTL_MS = 1000
const GROUPS_TTL_MS = 10_000
const GROUP_CACHE_ENTRIES = 32
/** Reason groups are refreshed at most this often, and at most ~5% of the time (factor 20). */
const REASONS_MIN_AGE_MS = 30_000

export class LocalLogSource implements Source {
  readonly kind = 'log' as const
  readonly hasHosts = false
  readonly label: string
  private readonly countsMemo: Memo<CountsSnapshot>
  private readonly reasonSummary: Background<ReasonSummary>
  private readonly groupCache = new Map<string, Memo<GroupsResult>>()
  private readonly abort = new AbortController()

  constructor(
    readonly key: string,
    readonly logPath: string,
    private readonly scans: Limiter,
  ) {
    this.label = logPaths(logPath).active
    this.countsMemo = new Memo(COUNTS_TTL_MS, async () => {
      const c = await logCounts(this.logPath)
      return {
        at: Date.now(),
        pending: c.pending,
        due: c.due,
        deferred: c.deferred,
        permanent: c.permanent,
        corrupt: c.corrupt,
        oldestPendingTs: c.oldestPendingTs,
      }
    })
    this.reasonSummary = new Background(REASONS_MIN_AGE_MS, 20, () =>
      this.scans.run(async () => {
        const started = Date.now()
        const s = await stats(this.logPath, { top: 5, signal: this.abort.signal })
        return { at: s.at, tookMs: Date.now() - started, retry: s.retry.reasons, permanent: s.permanent.reasons }
      }, this.abort.signal),
    )
  }

  counts(): Promise<CountsSnapshot> {
    return this.countsMemo.get()
  }

  async reasons(): Promise<ReasonSummary | undefined> {
    return this.reasonSummary.current()
  }

  /** For tests and the first page view: the reason summary once the scan in progress ends. */
  reasonsSettled(): Promise<ReasonSummary | undefined> {
    this.reasonSummary.current()
    return this.reasonSummary.settled()
  }

  async list(req: ListRequest): Promise<SourceEntry[]> {
    const filter = this.entryFilter(req.filter)
    const signal = this.signal(req.signal)
    return this.scans.run(async () => {
      const out: SourceEntry[] = []
      for await (const e of inspect(this.logPath, { ...filter, kind: req.filter.log, order: req.order, skip: req.skip, limit: req.limit, signal })) out.push(e)
      return out
    }, signal)
  }

  groups(filter: SourceFilter, signal?: AbortSignal): Promise<GroupsResult> {
    const key = JSON.stringify(filter, (_k, v: unknown) => (v instanceof RegExp ? `/${v.source}/${v.flags}` : v))
    let memo = this.groupCache.get(key)
    if (!memo) {
      if (this.groupCache.size >= GROUP_CACHE_ENTRIES) this.groupCache.delete(this.groupCache.keys().next().value!)
      const ef = this.entryFilter(filter)
      // Not tied to one request's signal: the result is shared with whoever asks next.
      memo = new Memo(GROUPS_TTL_MS, () =>
        this.scans.run(async () => {
          const counter = groupCounter()
          for await (const e of inspect(this.logPath, { ...ef, kind: filter.log, signal: this.abort.signal })) counter.addTo(e.fingerprint, e.reason, e.ts)
          return { groups: counter.top(100), matched: counter.matched, capped: counter.capped }
        }, this.abort.signal),
      )
      this.groupCache.set(key, memo)
    }
    const p = memo.get()
    if (!signal) return p
    return Promise.race([p, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))])
  }

  async entry(ref: string): Promise<SourceEntry | undefined> {
    return readEntry(this.logPath, ref)
  }

  async requeue(req: ActionRequest): Promise<ActionResult> {
    if (req.filter.log !== 'permanent') throw badRequest('requeue moves entries of the permanent log back to the retry log: use log=permanent')
    const filter = this.entryFilter(req.filter)
    const summary = await this.changing(req.dryRun, () =>
      requeue(this.logPath, { ...filter, dryRun: req.dryRun, resetAttempts: req.resetAttempts === true, signal: this.signal(req.signal), onProgress: req.onProgress }),
    )
    return { count: summary.count, text: requeueText(summary), summary }
  }

  async purge(req: ActionRequest & { filter: SourceFilter & { log: 'permanent' | 'corrupt' } }): Promise<ActionResult> {
    const log = req.filter.log as string
    if (log !== 'permanent' && log !== 'corrupt') throw badRequest('purge removes entries of the permanent or the corrupt log (the retry log is never purged): use log=permanent or log=corrupt')
    const filter = this.entryFilter(req.filter)
    const summary = await this.changing(req.dryRun, () =>
      purge(this.logPath, { ...filter, kind: req.filter.log, dryRun: req.dryRun, signal: this.signal(req.signal), onProgress: req.onProgress }),
    )
    return { count: summary.count, text: purgeText(summary), summary }
  }

  /** Runs a change of the log; whatever its outcome, cached counts and groups are stale after it. */
  private async changing<T>(dryRun: boolean, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } finally {
      if (!dryRun) {
        this.countsMemo.invalidate()
        this.groupCache.clear()
        this.reasonSummary.invalidate()
      }
    }
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('server closing'))
  }

  private entryFilter(f: SourceFilter): EntryFilter {
    if (f.host !== undefined) throw badRequest('host: a local log has no hosts (the host filter applies to the central store)')
    const { log: _log, host: _host, ...rest } = f
    return rest
  }

  private signal(s: AbortSignal | undefined): AbortSignal {
    return s ? AbortSignal.any([s, this.abort.signal]) : this.abort.signal
  }
}
