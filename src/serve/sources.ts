/**
 * What the inspector shows is a list of sources: each local log given on the command line,
 * and the central PostgreSQL store. Pages, the API and /metrics only talk to this interface,
 * so a source is one file and the routes never know where entries live.
 */
import type { AuditRecord, Counts, Entry, EntryFilter, InspectIterable, Kind, Progress, ReasonGroup, RequeueResult, Transform } from '../format/model.js'
import type { FailureSeries, FailureSeriesOptions } from '../format/series.js'

/** Cheap counts (`stats({ fast: true })`, no scan): what the overview and /metrics show. */
export interface CountsSnapshot extends Counts {
  at: number
  /** The central store: the same counts per host. */
  hosts?: Array<Counts & { host: string }>
}

/** The expensive part of stats (a scan): refreshed in the background, shown with its age. */
export interface ReasonSummary {
  at: number
  /** How long the scan took, so the page can say why it is not fresher. */
  tookMs: number
  retry: ReasonGroup[]
  permanent: ReasonGroup[]
}

/** A filter as the pages and the API take it, before it becomes the admin EntryFilter. */
export interface SourceFilter extends EntryFilter {
  kind: Kind
  /** The central store only. */
  host?: string
}

export interface ListRequest {
  filter: SourceFilter
  order: 'newest' | 'oldest'
  skip: number
  limit: number
  signal?: AbortSignal
}

/** One listed entry, with the opaque reference its own page is reached by. */
export type SourceEntry = Entry

export interface GroupsResult {
  groups: ReasonGroup[]
  /** Entries scanned (matching the filter). */
  matched: number
  /** True when more distinct groups existed than are kept; the rest are lumped together. */
  capped: boolean
}

export interface ActionRequest {
  filter: SourceFilter
  dryRun: boolean
  resetAttempts?: boolean
  signal?: AbortSignal
  onProgress?: (p: Progress) => void
}

/** What a requeue or purge did (or, dry, would do). */
export interface ActionResult {
  /** Entries moved or removed (dry run: that would be). */
  count: number
  /** One line, worded as the CLI prints it. */
  text: string
  /** The source's own summary object (for a local log: what the CLI prints with --json). */
  summary: unknown
}

/** One entry's repair (the payload editor): requeue with a transform that changes only that entry. */
export interface RepairRequest {
  filter: SourceFilter
  transform: Transform
  why: string
  actor?: string
  force: boolean
  dryRun: boolean
  signal?: AbortSignal
}

export interface Source {
  /** URL-safe, unique among the sources: `/logs/<key>/…`. */
  readonly key: string
  /** What the pages call it: the log path, or the store's name. */
  readonly label: string
  readonly kind: 'log' | 'store'
  /** Whether entries carry a host (the central store) and the host filter applies. */
  readonly hasHosts: boolean
  counts(): Promise<CountsSnapshot>
  /** The newest finished reason summary (undefined while the first is computed); starts a refresh when stale. */
  reasons(): Promise<ReasonSummary | undefined>
  list(req: ListRequest): Promise<SourceEntry[]>
  /** Every matching entry, oldest first, read as it is taken (an export: bounded memory whatever the count). */
  entries(filter: SourceFilter, signal?: AbortSignal): InspectIterable
  /** Reason groups of the matching entries, by last reason (default) or by the reason each first failed with. */
  groups(filter: SourceFilter, signal?: AbortSignal, groupBy?: 'first' | 'last'): Promise<GroupsResult>
  /** The entry a reference points at; undefined when it is no longer there. */
  entry(ref: string): Promise<SourceEntry | undefined>
  /** Failures over time (the charts); shared for a moment between requests. */
  failures(o: FailureSeriesOptions): Promise<FailureSeries>
  /** The last 24 h (per host for the store), as last computed; starts a refresh when stale (the overview's sparklines). */
  recentFailures(): Promise<FailureSeries | undefined>
  requeue(req: ActionRequest): Promise<ActionResult>
  purge(req: ActionRequest & { filter: SourceFilter & { kind: 'permanent' | 'corrupt' } }): Promise<ActionResult>
  repair(req: RepairRequest): Promise<RequeueResult>
  /** The audit records that name the entry (`readAudit` / `store.readAudit`). */
  audit(ref: string): Promise<AuditRecord[]>
  close(): Promise<void>
}
