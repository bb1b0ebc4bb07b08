/**
 * What the inspector shows is a list of sources: each local log given on the command line,
 * and the central PostgreSQL store. Pages, the API and /metrics talk only to a Source, so the
 * routes never know where entries live.
 *
 * A local log or the central store as an inspector source, through the library's public calls
 * only: stats (counts with `fast`, reason groups with `top` and a filter), inspect, readEntry,
 * requeue and purge take the same options and return the same shapes on both, so one class
 * serves both and the pages see and change exactly what the CLI would, under the same locks.
 *
 * What differs is cost. A local log's fast counts are kept as it changes (O(segments), no
 * scan), but its reason groups are a scan: refreshed in the background, at most ~5% of the time.
 * The store's counts and groups are aggregate queries: shared for a few seconds, and the first
 * overview waits for its groups. Either way a listing reads what it lists and passes over.
 */
import { type AuditRecord, type Backend, type FailureSeries, type FailureSeriesOptions, type InspectIterable, type InspectOptions, type RequeueResult, failureSeries, logBackend } from '../index.js'
import type { PGliteLike } from '../postgres/index.js'
import { redactUrl } from '../base/redact.js'
import { changeText } from '../format/change-text.js'
import { Background, type Limiter, Memo } from './cache.js'
import { badRequest } from './http-error.js'
import type { ActionRequest, ActionResult, RepairRequest, CountsSnapshot, GroupsResult, ListRequest, ReasonSummary, SourceEntry, SourceFilter } from './sources.js'

/** The calls a source makes: one Backend, and the failures over time its charts draw. */
type Calls = Backend & { failureSeries(o: FailureSeriesOptions): Promise<FailureSeries> }

interface Costs {
  countsTtlMs: number
  /** Reason groups are refreshed at most this often (and at most 1/20 of the time). */
  reasonsMinAgeMs: number
  /** Cheap groups: the first overview waits for them instead of showing none yet. */
  waitForReasons: boolean
}

const LOCAL: Costs = { countsTtlMs: 1000, reasonsMinAgeMs: 30_000, waitForReasons: false }
const CENTRAL: Costs = { countsTtlMs: 5000, reasonsMinAgeMs: 5000, waitForReasons: true }
const GROUPS_TTL_MS = 10_000
const GROUP_CACHE_ENTRIES = 32
/** Groups listed on a page; one more is asked for, to tell whether there were more. */
const MAX_GROUPS = 100
/** Hosts given their own series and rows; a fleet larger than this shows the busiest ones. */
const MAX_HOSTS = 50

export class Source {
  private readonly countsMemo: Memo<CountsSnapshot>
  private readonly reasonSummary: Background<ReasonSummary>
  private readonly groupCache = new Map<string, Memo<GroupsResult>>()
  private readonly abort = new AbortController()
  private readonly seriesCache = new Map<string, Memo<FailureSeries>>()
  private readonly recent: Background<{ at: number; tookMs: number; series: FailureSeries }>

  constructor(
    /** URL-safe, unique among the sources: `/logs/<key>/…`. */
    readonly key: string,
    /** What the pages call it: the log path, or the store's name. */
    readonly label: string,
    readonly kind: 'log' | 'store',
    private readonly calls: Calls,
    private readonly scans: Limiter,
    private readonly costs: Costs,
  ) {
    this.countsMemo = new Memo(costs.countsTtlMs, () => this.readCounts())
    this.reasonSummary = new Background(costs.reasonsMinAgeMs, 20, () =>
      this.scans.run(async () => {
        const started = Date.now()
        const s = await this.calls.stats({ top: 5, signal: this.abort.signal })
        return { at: s.at, tookMs: Date.now() - started, retry: s.retry.reasons, permanent: s.permanent.reasons }
      }, this.abort.signal),
    )
    this.recent = new Background(costs.countsTtlMs, 20, async () => {
      const started = Date.now()
      const series = await this.failures({ range: '24h', ...(this.hasHosts ? { byHost: true } : {}) })
      return { at: started, tookMs: Date.now() - started, series }
    })
  }

  /** Failures over time (the charts); shared for a moment between requests. */
  failures(o: FailureSeriesOptions): Promise<FailureSeries> {
    const key = JSON.stringify([o.range, o.kind, o.top, o.host, o.byHost])
    let memo = this.seriesCache.get(key)
    if (!memo) {
      // A handful of keys at most (range × kind × host filter): bounded like the group cache.
      if (this.seriesCache.size >= GROUP_CACHE_ENTRIES) this.seriesCache.delete(this.seriesCache.keys().next().value!)
      memo = new Memo(this.costs.countsTtlMs, () => this.scans.run(() => this.calls.failureSeries(o), this.abort.signal))
      this.seriesCache.set(key, memo)
    }
    return memo.get()
  }

  /** The last 24 h (per host for the store), as last computed; starts a refresh when stale (the overview's sparklines). */
  async recentFailures(): Promise<FailureSeries | undefined> {
    return (this.recent.current() ?? (this.costs.waitForReasons ? await this.recent.settled() : undefined))?.series
  }

  /** Whether entries carry a host (the central store) and the host filter applies. */
  get hasHosts(): boolean {
    return this.kind === 'store'
  }

  private async readCounts(): Promise<CountsSnapshot> {
    const s = await this.calls.stats({ fast: true, signal: this.abort.signal })
    const r = s.retry
    const c: CountsSnapshot = { at: Date.now(), pending: r.count, due: r.due, deferred: r.deferred, permanent: s.permanent.count, corrupt: s.corrupt.count, oldestPendingTs: r.oldestTs }
    if (s.hosts !== undefined) {
      c.hosts = s.hosts
        .slice(0, MAX_HOSTS)
        .sort((a, b) => (a.host < b.host ? -1 : 1))
        .map((h) => ({ host: h.host, pending: h.retry, due: h.due, deferred: h.retry - h.due, permanent: h.permanent, corrupt: h.corrupt, oldestPendingTs: h.oldestTs }))
    }
    return c
  }

  counts(): Promise<CountsSnapshot> {
    return this.countsMemo.get()
  }

  /** The newest finished reason summary (undefined while the first is computed); starts a refresh when stale. */
  async reasons(): Promise<ReasonSummary | undefined> {
    return this.reasonSummary.current() ?? (this.costs.waitForReasons ? this.reasonSummary.settled() : undefined)
  }

  /** For tests and the first page view: the reason summary once the scan in progress ends. */
  reasonsSettled(): Promise<ReasonSummary | undefined> {
    this.reasonSummary.current()
    return this.reasonSummary.settled()
  }

  async list(req: ListRequest): Promise<SourceEntry[]> {
    const signal = this.signal(req.signal)
    return this.scans.run(async () => {
      const out: SourceEntry[] = []
      for await (const e of this.calls.inspect({ ...this.options(req.filter), order: req.order, skip: req.skip, limit: req.limit, signal })) out.push(e)
      return out
    }, signal)
  }

  /** Every matching entry, oldest first, read as it is taken (an export). Not a scan slot: it runs at its client's pace and must not hold the pages up. */
  entries(filter: SourceFilter, signal?: AbortSignal): InspectIterable {
    return this.calls.inspect({ ...this.options(filter), signal: this.signal(signal) })
  }

  /** Reason groups of the matching entries, by last reason (default) or by the reason each first failed with. */
  groups(filter: SourceFilter, signal?: AbortSignal, groupBy: 'first' | 'last' = 'last'): Promise<GroupsResult> {
    const key = JSON.stringify([groupBy, filter], (_k, v: unknown) => (v instanceof RegExp ? `/${v.source}/${v.flags}` : v))
    let memo = this.groupCache.get(key)
    if (!memo) {
      if (this.groupCache.size >= GROUP_CACHE_ENTRIES) this.groupCache.delete(this.groupCache.keys().next().value!)
      const { kind, ...rest } = this.options(filter)
      // Not tied to one request's signal: the result is shared with whoever asks next.
      memo = new Memo(GROUPS_TTL_MS, () =>
        this.scans.run(async () => {
          const k = (await this.calls.stats({ ...rest, top: MAX_GROUPS + 1, groupBy, signal: this.abort.signal }))[kind!]
          return { groups: k.reasons.slice(0, MAX_GROUPS), matched: k.count, capped: k.reasons.length > MAX_GROUPS }
        }, this.abort.signal),
      )
      this.groupCache.set(key, memo)
    }
    const p = memo.get()
    if (!signal) return p
    return Promise.race([p, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))])
  }

  /** The entry a reference points at; undefined when it is no longer there. */
  entry(ref: string): Promise<SourceEntry | undefined> {
    return this.calls.readEntry(ref)
  }

  async requeue(req: ActionRequest): Promise<ActionResult> {
    if (req.filter.kind !== 'permanent') throw badRequest('requeue moves entries of the permanent log back to the retry log: use kind=permanent')
    const r = await this.changing(req.dryRun, () =>
      this.calls.requeue({ ...this.options(req.filter), kind: 'permanent', dryRun: req.dryRun, resetAttempts: req.resetAttempts === true, signal: this.signal(req.signal), onProgress: req.onProgress }),
    )
    return { count: r.count, text: changeText(r), summary: r }
  }

  async purge(req: ActionRequest): Promise<ActionResult> {
    const kind = req.filter.kind
    if (kind !== 'permanent' && kind !== 'corrupt') throw badRequest('purge removes entries of the permanent or the corrupt log (the retry log is never purged): use kind=permanent or kind=corrupt')
    const r = await this.changing(req.dryRun, () =>
      this.calls.purge({ ...this.options(req.filter), kind, dryRun: req.dryRun, signal: this.signal(req.signal), onProgress: req.onProgress }),
    )
    return { count: r.count, text: changeText(r), summary: r }
  }

  /** One entry's repair from the payload editor (src/serve/edit.ts): the library's requeue with a transform. */
  repair(req: RepairRequest): Promise<RequeueResult> {
    const { filter, signal, ...rest } = req
    if (filter.kind === 'corrupt') throw badRequest('a corrupt-log record has no payload to edit')
    return this.changing(req.dryRun, () => this.calls.requeue({ ...this.options(filter), kind: filter.kind as 'permanent' | 'retry', ...rest, signal: this.signal(signal) }))
  }

  /** The audit records that name the entry (`readAudit` / `store.readAudit`). */
  audit(ref: string): Promise<AuditRecord[]> {
    return this.scans.run(() => this.calls.readAudit(ref), this.abort.signal)
  }

  /** Runs a change; whatever its outcome, cached counts and groups are stale after it. */
  private async changing<T>(dryRun: boolean, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } finally {
      if (!dryRun) {
        this.countsMemo.invalidate()
        this.groupCache.clear()
        this.seriesCache.clear()
        this.reasonSummary.invalidate()
        this.recent.invalidate()
      }
    }
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('server closing'))
    await this.calls.close()
  }

  /** A page's filter as the library's options (the host filter only where entries have hosts). */
  private options(f: SourceFilter): InspectOptions & { host?: string } {
    if (f.host !== undefined && !this.hasHosts) throw badRequest('host: a local log has no hosts (the host filter applies to the central store)')
    return f
  }

  private signal(s: AbortSignal | undefined): AbortSignal {
    return s ? AbortSignal.any([s, this.abort.signal]) : this.abort.signal
  }
}

/** `file`: the log's active file, as resolved by startServer. */
export function localSource(key: string, file: string, scans: Limiter): Source {
  // Kept for the life of the server: each file is counted once, then only what is appended.
  const series = failureSeries(file)
  return new Source(key, file, 'log', { ...logBackend(file), failureSeries: (o) => series.read(o) }, scans, LOCAL)
}

/** `db`: a connection string, or a PGlite instance (the embedded demo database; tests). */
export async function storeSource(db: string | PGliteLike, key: string, scans: Limiter): Promise<Source> {
  // Loaded only when a store is served: a server over local logs never loads the driver.
  const { PostgresStore } = await import('../postgres/index.js')
  const store = await PostgresStore.connect(db)
  const label = typeof db === 'string' ? redactUrl(db) : 'central store (embedded)'
  return new Source(key, label, 'store', store, scans, CENTRAL)
}
