/**
 * The central PostgreSQL store as an inspector source, through PostgresStore's public API
 * only (stats, inspect, readEntry, requeue, purge: the calls a local log answers too). Counts
 * are aggregate queries over indexed columns, shared for a few seconds between requests;
 * listings walk the table by sequence number (keyset pages), so memory stays one page
 * whatever its size.
 *
 * Differences from a local log, said on the pages: entries carry their host; a payload is
 * stored as jsonb, so "payload contains" matches its re-encoded JSON text.
 */
import { PostgresStore } from '../postgres/index.js'
import { redactUrl } from '../base/redact.js'
import type { PGliteLike } from '../postgres/index.js'
import type { CentralOptions, InspectOptions, Stats } from '../format/model.js'
import { Limiter, Memo } from './cache.js'
import { badRequest } from './http-error.js'
import { held } from './summary-text.js'
import type { ActionRequest, ActionResult, CountsSnapshot, GroupsResult, ListRequest, ReasonSummary, Source, SourceCounts, SourceEntry, SourceFilter } from './sources.js'

const COUNTS_TTL_MS = 5000
/** Hosts given their own series and rows; a fleet larger than this shows the busiest ones. */
const MAX_HOSTS = 50

interface Snapshot {
  counts: CountsSnapshot
  reasons: ReasonSummary
}

/** A page's filter as the store's options. */
function optionsOf(f: SourceFilter): InspectOptions & CentralOptions {
  const { log, ...rest } = f
  return { ...rest, kind: log }
}

export class StoreSource implements Source {
  readonly kind = 'store' as const
  readonly hasHosts = true
  private readonly snapshot: Memo<Snapshot>

  constructor(
    readonly key: string,
    readonly label: string,
    private readonly store: PostgresStore,
    private readonly scans: Limiter,
    private readonly ownsStore: boolean,
  ) {
    this.snapshot = new Memo(COUNTS_TTL_MS, () => this.read())
  }

  private async read(): Promise<Snapshot> {
    const started = Date.now()
    const s: Stats = await this.store.stats({ top: 5 })
    const r = s.retry
    const perHost = (s.hosts ?? []).slice(0, MAX_HOSTS).sort((a, b) => (a.host < b.host ? -1 : 1)).map(
      (h): SourceCounts & { host: string } => ({ host: h.host, pending: h.retry, due: h.due, deferred: h.retry - h.due, permanent: h.permanent, corrupt: h.corrupt, oldestPendingTs: h.oldestTs }),
    )
    const at = Date.now()
    return {
      counts: { at, pending: r.count, due: r.due, deferred: r.count - r.due, permanent: s.permanent.count, corrupt: s.corrupt.count, oldestPendingTs: r.oldestTs, hosts: perHost },
      reasons: { at, tookMs: at - started, retry: r.reasons, permanent: s.permanent.reasons },
    }
  }

  async counts(): Promise<CountsSnapshot> {
    return (await this.snapshot.get()).counts
  }

  async reasons(): Promise<ReasonSummary | undefined> {
    return (await this.snapshot.get()).reasons
  }

  async list(req: ListRequest): Promise<SourceEntry[]> {
    // The store walks its primary key from either end: a page reads what it lists and skips.
    const listing = this.store.inspect({ ...optionsOf(req.filter), order: req.order, skip: req.skip, limit: req.limit, signal: req.signal })
    return this.scans.run(async () => {
      const page: SourceEntry[] = []
      for await (const e of listing) page.push(e)
      return page
    }, req.signal)
  }

  async groups(filter: SourceFilter, signal?: AbortSignal): Promise<GroupsResult> {
    const { log, ...rest } = filter
    const s = await this.store.stats({ ...rest, top: 100, signal })
    return { groups: s[log].reasons, matched: s[log].count, capped: false }
  }

  async entry(ref: string): Promise<SourceEntry | undefined> {
    if (!/^\d{1,18}$/.test(ref)) throw badRequest('ref: expected a sequence number, as the listing links give it')
    return this.store.readEntry(ref)
  }

  async requeue(req: ActionRequest): Promise<ActionResult> {
    if (req.filter.log !== 'permanent') throw badRequest('requeue moves entries of the permanent log back to the retry log: use log=permanent')
    const r = await this.store.requeue({ ...optionsOf(req.filter), kind: 'permanent', dryRun: req.dryRun, resetAttempts: req.resetAttempts === true, signal: req.signal, onProgress: req.onProgress })
    this.snapshot.invalidate()
    const n = `${r.count} entr${r.count === 1 ? 'y' : 'ies'}`
    const heldBack = held(r)
    const text = r.dryRun
      ? `dry run: would move ${n} of the central store from permanent to retry${heldBack}. Nothing was changed.`
      : `requeued ${n} of the central store from permanent to retry${req.resetAttempts ? ', attempts reset to 1' : ''}${heldBack}${r.stopped === 'abort' ? ' (stopped)' : ''}`
    return { count: r.count, text, summary: r }
  }

  async purge(req: ActionRequest & { filter: SourceFilter & { log: 'permanent' | 'corrupt' } }): Promise<ActionResult> {
    const r = await this.store.purge({ ...optionsOf(req.filter), kind: req.filter.log, dryRun: req.dryRun, signal: req.signal, onProgress: req.onProgress })
    this.snapshot.invalidate()
    const n = `${r.count} entr${r.count === 1 ? 'y' : 'ies'}`
    const text = r.dryRun
      ? `dry run: would purge ${n} of the central store's ${req.filter.log} entries. Nothing was changed.`
      : `purged ${n} of the central store's ${req.filter.log} entries${r.stopped === 'abort' ? ' (stopped)' : ''}`
    return { count: r.count, text, summary: r }
  }

  async close(): Promise<void> {
    if (this.ownsStore) await this.store.close()
  }
}

/** `db`: a connection string, or a PGlite instance (the embedded demo database; tests). */
export async function openStoreSource(db: string | PGliteLike, key: string, scans: Limiter): Promise<Source> {
  const store = await PostgresStore.connect(db)
  const label = typeof db === 'string' ? redactUrl(db) : 'central store (embedded)'
  return new StoreSource(key, label, store, scans, true)
}
