/**
 * The central PostgreSQL store as an inspector source, through PostgresStore's public API
 * only (stats, inspect, requeue, purge). Counts are aggregate queries over indexed columns,
 * shared for a few seconds between requests; listings walk the table by sequence number
 * (keyset pages), so memory stays one page whatever its size.
 *
 * Differences from a local log, said on the pages: entries carry their host; `payload` and
 * `attempt` filters are applied here while listing (PostgreSQL does not see them), so they
 * cannot narrow a requeue or purge; a payload is stored as jsonb, so "payload contains"
 * matches its re-encoded JSON text.
 */
import type { ReasonGroup } from '../admin/types.js'
import { PostgresStore, redactUrl } from '../postgres/index.js'
import type { CentralEntry, EntryFilter as StoreFilter, FingerprintGroup, PGliteLike } from '../postgres/index.js'
import { Limiter, Memo } from './cache.js'
import { groupCounter } from './groups.js'
import { badRequest } from './http-error.js'
import type { ActionRequest, ActionResult, CountsSnapshot, GroupsResult, ListRequest, ReasonSummary, Source, SourceCounts, SourceEntry, SourceFilter } from './sources.js'

const COUNTS_TTL_MS = 5000
/** Hosts given their own series and rows; a fleet larger than this shows the busiest ones. */
const MAX_HOSTS = 50

interface Snapshot {
  counts: CountsSnapshot
  reasons: ReasonSummary
}

function reasonGroups(groups: FingerprintGroup[]): ReasonGroup[] {
  return groups.map((g) => ({ reason: g.fingerprint, count: g.count, firstSeen: g.oldestTs, lastSeen: g.newestTs, example: g.example }))
}

function envelopeLine(e: CentralEntry): string {
  const o: Record<string, unknown> = { ts: e.ts, attempt: e.attempt, reason: e.reason }
  for (const k of ['id', 'firstTs', 'dueTs', 'errorName', 'errorCode', 'final'] as const) if (e[k] !== undefined) o[k] = e[k]
  o.payload = e.payload
  return JSON.stringify(o)
}

/** `<seq>.<ts>`: the row's sequence number, and its time to find it by an indexed range. */
function refOf(e: CentralEntry): string {
  return `${e.seq}.${e.ts}`
}

function toSourceEntry(e: CentralEntry): SourceEntry {
  const log = e.state === 'permanent' || e.state === 'corrupt' ? e.state : 'retry'
  const out: SourceEntry = {
    ref: refOf(e),
    log,
    host: e.host,
    file: `${e.host}:${e.source}`,
    offset: e.offset,
    line: e.state === 'corrupt' ? (e.raw ?? '') : envelopeLine(e),
    ts: e.ts,
    attempt: e.attempt,
    reason: e.reason,
    fingerprint: e.fingerprint,
  }
  if (e.id !== undefined) out.id = e.id
  if (e.firstTs !== undefined) out.firstTs = e.firstTs
  if (e.dueTs !== undefined) out.dueTs = e.dueTs
  if (e.final !== undefined) out.final = e.final as SourceEntry['final']
  if (e.errorName !== undefined) out.errorName = e.errorName
  if (e.errorCode !== undefined) out.errorCode = e.errorCode
  if (e.state === 'corrupt') out.raw = e.raw ?? ''
  else out.payload = e.payload
  return out
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
    const [retry, permanent, corrupt] = await Promise.all(
      (['retry', 'permanent', 'corrupt'] as const).map((state) => this.store.stats({ state }, { top: 5 })),
    )
    const hostNames = new Set<string>()
    for (const s of [retry, permanent, corrupt]) for (const h of s.byHost) if (hostNames.size < MAX_HOSTS) hostNames.add(h.host)
    const countOf = (s: typeof retry, host: string) => s.byHost.find((h) => h.host === host)?.count ?? 0
    // Due now and the oldest pending failure need the host in the query; one per host.
    const perHost = await Promise.all(
      [...hostNames].sort().map(async (host) => {
        const r = countOf(retry, host) > 0 ? await this.store.stats({ state: 'retry', host }, { top: 1 }) : undefined
        const c: SourceCounts & { host: string } = {
          host,
          pending: countOf(retry, host),
          due: r?.due ?? 0,
          deferred: 0,
          permanent: countOf(permanent, host),
          corrupt: countOf(corrupt, host),
          oldestPendingTs: r?.oldestTs ?? null,
        }
        c.deferred = c.pending - c.due
        return c
      }),
    )
    const at = Date.now()
    return {
      counts: {
        at,
        pending: retry.total,
        due: retry.due,
        deferred: retry.total - retry.due,
        permanent: permanent.total,
        corrupt: corrupt.total,
        oldestPendingTs: retry.oldestTs,
        hosts: perHost,
      },
      reasons: { at, tookMs: at - started, retry: reasonGroups(retry.byFingerprint), permanent: reasonGroups(permanent.byFingerprint) },
    }
  }

  async counts(): Promise<CountsSnapshot> {
    return (await this.snapshot.get()).counts
  }

  async reasons(): Promise<ReasonSummary | undefined> {
    return (await this.snapshot.get()).reasons
  }

  /** The store's own filter, and what only this side can check (payload text, attempt). */
  private split(f: SourceFilter): { where: StoreFilter; local: ((e: CentralEntry) => boolean) | undefined } {
    const where: StoreFilter = { state: f.log }
    if (f.reason instanceof RegExp) {
      if (f.reason.flags.replace(/[ig]/g, '') !== '') throw badRequest('reason: the central store takes a regular expression without flags')
      where.reason = f.reason
    } else if (f.reason !== undefined) where.reason = f.reason
    if (f.id !== undefined) where.id = f.id
    if (f.host !== undefined) where.host = f.host
    if (f.since !== undefined) where.since = f.since
    if (f.until !== undefined) where.until = f.until
    if (f.olderThan !== undefined) where.until = typeof f.olderThan === 'number' ? Date.now() - f.olderThan : `${f.olderThan}`
    const payload = f.payload
    const attempt = f.attempt
    const local =
      payload === undefined && attempt === undefined
        ? undefined
        : (e: CentralEntry) =>
            (attempt === undefined || e.attempt >= attempt) &&
            (payload === undefined || (e.state === 'corrupt' ? (e.raw ?? '') : (JSON.stringify(e.payload) ?? '')).includes(payload))
    return { where, local }
  }

  async list(req: ListRequest): Promise<SourceEntry[]> {
    const { where, local } = this.split(req.filter)
    return this.scans.run(async () => {
      // The store walks its primary key from either end: a page reads what it lists and skips.
      const page: CentralEntry[] = []
      let seen = 0
      for await (const e of this.store.inspect({ ...where, order: req.order })) {
        req.signal?.throwIfAborted()
        if (local && !local(e)) continue
        if (++seen > req.skip) page.push(e)
        if (page.length >= req.limit) break
      }
      return page.map(toSourceEntry)
    }, req.signal)
  }

  async groups(filter: SourceFilter, signal?: AbortSignal): Promise<GroupsResult> {
    const { where, local } = this.split(filter)
    if (!local) {
      const s = await this.store.stats(where, { top: 100 })
      const groups = reasonGroups(s.byFingerprint)
      return { groups, matched: s.total, capped: false }
    }
    return this.scans.run(async () => {
      const counter = groupCounter()
      for await (const e of this.store.inspect(where)) {
        signal?.throwIfAborted()
        if (local(e)) counter.addTo(e.fingerprint, e.reason, e.ts)
      }
      return { groups: counter.top(100), matched: counter.matched, capped: counter.capped }
    }, signal)
  }

  async entry(ref: string): Promise<SourceEntry | undefined> {
    const m = /^(\d{1,15})\.(\d{1,15})$/.exec(ref)
    if (!m) throw badRequest('ref: expected <sequence>.<time>, as the listing links give it')
    const seq = Number(m[1])
    const ts = Number(m[2])
    for await (const e of this.store.inspect({ since: ts, until: ts + 1 })) if (e.seq === seq) return toSourceEntry(e)
    return undefined
  }

  private actionFilter(f: SourceFilter): StoreFilter {
    const { where, local } = this.split(f)
    if (local) throw badRequest('payload and attempt filters cannot narrow a requeue or purge of the central store; narrow by reason, id, host or time, or select entries')
    return where
  }

  async requeue(req: ActionRequest): Promise<ActionResult> {
    if (req.filter.log !== 'permanent') throw badRequest('requeue moves entries of the permanent log back to the retry log: use log=permanent')
    const r = await this.store.requeue(this.actionFilter(req.filter), { dryRun: req.dryRun, resetAttempts: req.resetAttempts === true, signal: req.signal })
    this.snapshot.invalidate()
    const n = `${r.count} entr${r.count === 1 ? 'y' : 'ies'}`
    const text = r.dryRun
      ? `dry run: would move ${n} of the central store from permanent to retry. Nothing was changed.`
      : `requeued ${n} of the central store from permanent to retry${req.resetAttempts ? ', attempts reset to 1' : ''}${r.stopped ? ' (stopped)' : ''}`
    return { count: r.count, text, summary: r }
  }

  async purge(req: ActionRequest & { filter: SourceFilter & { log: 'permanent' | 'corrupt' } }): Promise<ActionResult> {
    const r = await this.store.purge(this.actionFilter(req.filter), { dryRun: req.dryRun, signal: req.signal })
    this.snapshot.invalidate()
    const n = `${r.count} entr${r.count === 1 ? 'y' : 'ies'}`
    const text = r.dryRun
      ? `dry run: would purge ${n} of the central store's ${req.filter.log} entries. Nothing was changed.`
      : `purged ${n} of the central store's ${req.filter.log} entries${r.stopped ? ' (stopped)' : ''}`
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
