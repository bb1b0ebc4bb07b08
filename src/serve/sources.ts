/** What a source (backend-source.ts) takes and answers: the pages, the API and /metrics see only these shapes. */
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
