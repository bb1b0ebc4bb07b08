/**
 * Public types of the admin API (stats, inspect, requeue, purge, fingerprint). The objects
 * returned here are exactly what the CLI prints with `--json`, so scripts can move between
 * the two without translation.
 */
import type { FinalReason } from '../format/envelope.js'

/** Which of a log's three files an entry lives in. */
export type LogKind = 'retry' | 'permanent' | 'corrupt'

/** A point in time: a Date, epoch ms, an ISO date string, or a duration ago ('2h', '30d'). */
export type TimeInput = Date | number | string

/**
 * Which entries an operation touches. Every given condition must hold (AND). The same
 * filter given to `inspect` previews exactly what `requeue` or `purge` will touch.
 */
export interface EntryFilter {
  /** RegExp tested against the reason (for the corrupt log: the parse error); a string matches as a substring. */
  reason?: RegExp | string
  /** Only entries with this id (or one of these ids). Not allowed for the corrupt log. */
  id?: string | string[]
  /** Substring of the payload's stored JSON text (for the corrupt log: of the quarantined raw text). */
  payload?: string
  /** Minimum attempt count (entries with attempt >= this). */
  attempt?: number
  /** ts >= this. */
  since?: TimeInput
  /** ts < this. */
  until?: TimeInput
  /** ts < now - this (a duration in ms or '30d'), as the CLI's --older-than spells it. Cannot be combined with `until`. */
  olderThan?: number | string
  /** At most this many entries (listed, moved or removed). */
  limit?: number
}

/** Options every admin operation accepts. */
export interface AdminCommonOptions {
  /** Largest record the log was written with (LoggerOptions.maxRecordSize); number of bytes or '32MiB'. Default: the library default (16 MiB). */
  maxRecordSize?: number | string
  /**
   * Stops the operation. stats and inspect reject with DLQ_ABORTED; requeue and purge roll
   * back the segment in progress and resolve with `aborted: true` (as the CLI does on SIGINT).
   */
  signal?: AbortSignal
}

export interface StatsOptions extends AdminCommonOptions {
  /** How many reason groups to list per log. Default 10. */
  top?: number
  /**
   * Counts from per-segment metadata and checkpoints (logCounts) instead of a full scan: cost
   * grows with the number of segments and new bytes, not the backlog. Reason groups, the
   * attempts histogram, newest times, nextDueTs, byFinal and unparseable counts need a scan
   * and are left empty; `LogStats.fast` says which counts are exact. May write cache sidecars
   * (`<segment>.meta`) next to sealed segments. Default false.
   */
  fast?: boolean
  /** Called as the scan advances (bytes done of total, entries read). */
  onProgress?: (p: AdminProgress) => void
}

export interface InspectOptions extends EntryFilter, AdminCommonOptions {
  /** Which log to list. Default 'retry' (its pending items, from each segment's checkpoint on). */
  log?: LogKind
  /**
   * 'oldest' first (streams) or 'newest' first (needs `limit`): reads the files backwards from
   * the end of the log and stops after the page, so it costs what it lists and passes over
   * (skip, filtered-out entries), not the size of the log; a .gz segment on the way is read
   * whole. Holds at most skip + limit entries. Default 'oldest'.
   */
  order?: 'oldest' | 'newest'
  /** Matching entries to pass over before yielding (pagination). Default 0. */
  skip?: number
}

/** Progress of a long rewrite: bytes done of total, entries read so far. */
export interface AdminProgress {
  done: number
  total: number
  items: number
}

export interface RequeueOptions extends EntryFilter, AdminCommonOptions {
  /** Start moved entries over: attempt 1, no due time, no `final` mark. Default false. */
  resetAttempts?: boolean
  /** Only count what would move; change nothing, take no lock. Default false. */
  dryRun?: boolean
  onProgress?: (p: AdminProgress) => void
  /** How long to wait for a live writer to seal its active permanent file (ms or '5s'). Default: replay's sealTimeout. */
  sealTimeout?: number | string
}

export interface PurgeOptions extends EntryFilter, AdminCommonOptions {
  /** Which log to purge. Required: the retry log is never purged. */
  log: 'permanent' | 'corrupt'
  /** Only count what would be removed; change nothing, take no lock. Default false. */
  dryRun?: boolean
  onProgress?: (p: AdminProgress) => void
  sealTimeout?: number | string
}

/** One entry of a log as `inspect` yields it. */
export interface InspectEntry {
  log: LogKind
  /** Absolute path of the file holding it (a sealed segment, .gz included, or an active file). */
  file: string
  /** Byte offset of its line in the (uncompressed) file. */
  offset: number
  /** The stored line, unchanged: what `dletter inspect --json` prints. */
  line: string
  /** When it was recorded (corrupt log: when it was quarantined). */
  ts: number
  /** Attempts so far; 0 for corrupt-log records. */
  attempt: number
  /** The failure reason (corrupt log: the parse error). */
  reason: string | null
  /** The normalized reason `stats` groups by. */
  fingerprint: string
  id?: string
  firstTs?: number
  dueTs?: number
  final?: FinalReason
  errorName?: string
  errorCode?: string
  /** The parsed payload; undefined for corrupt-log records. */
  payload?: unknown
  /** Corrupt log only: the quarantined bytes (base64 when rawEncoding is 'base64'). */
  raw?: string
  rawEncoding?: string
  /** Corrupt log only: `raw` holds only the first bytes of the line. */
  rawTruncated?: boolean
  /** Corrupt log only: an over-limit line's own file (corrupt-<segment>.<offset>.line, same directory). */
  rawFile?: string
  /** Corrupt log only: the segment and offset the bad line came from. */
  source?: { segment?: string; offset?: number; length?: number }
}

/** How an `inspect` listing went; complete once iteration has ended. */
export interface InspectSummary {
  /** Entries yielded. */
  entries: number
  /** Matching entries passed over by `skip`. */
  skipped: number
  /**
   * Lines that are not entries (skipped; the next replay quarantines those of the retry log),
   * among the lines read: a listing cut by `limit` stops reading there, so this counts only the
   * part it read (oldest first: up to the last entry; newest first: back to it, plus the whole of
   * any .gz segment read).
   */
  unparseable: number
  /** More entries followed the last one yielded (cut by `limit`). */
  limited: boolean
  /** Files that could not be read to the end (a corrupt .gz), of those the listing read: reported, never fatal. */
  readErrors: Array<{ file: string; error: string }>
}

/** What `inspect()` returns: iterate it with `for await`; breaking out stops the read. */
export interface InspectIterable extends AsyncIterable<InspectEntry> {
  readonly summary: InspectSummary
}

export interface ReasonGroup {
  /** The fingerprint (normalized reason). */
  reason: string
  count: number
  firstSeen: number
  lastSeen: number
  /** One original reason of the group. */
  example: string | null
}

/** What `dletter stats --json` prints. */
export interface LogStats {
  log: string
  at: number
  writer: { running: boolean; pid: number | null }
  /**
   * The replay lock. A requeue, purge or ship takes it too: `operation` says which holds it
   * ('replay', 'requeue', 'purge', 'ship'; null when it is free).
   */
  replay: { running: boolean; pid: number | null; operation: string | null }
  retry: {
    sealedSegments: number
    activeBytes: number
    bytes: number
    /** Segments a replay has partly processed (read from their checkpoint). */
    checkpointed: number
    pending: number
    dueNow: number
    deferred: number
    nextDueTs: number | null
    attempts: Record<string, number>
    oldestFailureTs: number | null
    newestFailureTs: number | null
    oldestFailureAgeMs: number | null
    newestFailureAgeMs: number | null
    /** Lines the next replay will quarantine. */
    unparseable: number
    /** A record being written at the end of the active file. */
    partialTail: boolean
    reasons: ReasonGroup[]
  }
  permanent: {
    sealedSegments: number
    activeBytes: number
    bytes: number
    entries: number
    byFinal: Record<string, number>
    oldestTs: number | null
    newestTs: number | null
    unparseable: number
    reasons: ReasonGroup[]
  }
  corrupt: {
    bytes: number
    records: number
    /** Unreadable compressed segments a replay set aside (corrupt-<segment>.gz). */
    filesSetAside: number
  }
  /** A requeue or purge was killed mid-way; the next replay, requeue or purge settles it. */
  interruptedRewrite: { op: string; source: string; state: string } | null
  readErrors: Array<{ file: string; error: string }>
  /** What went wrong without failing the call: an `onProgress` callback that threw. */
  warnings: string[]
  /** Only with `fast: true`: the counts came from logCounts; false flags mark estimates. */
  fast?: { dueExact: boolean; oldestPendingTsExact: boolean; scannedBytes: number }
}

/** What `dletter requeue --json` prints. */
export interface RequeueSummary {
  log: string
  dryRun: boolean
  /** The filters in words. */
  filters: string
  resetAttempts: boolean
  /** Entries moved to the retry log (in a dry run: that would move). */
  moved: number
  /** Entries read and left in the permanent log. */
  kept: number
  segments: number
  rewritten: number
  skipped: Array<{ segment: string; reason: string }>
  aborted: boolean
  limited: boolean
  /** What recovery of an earlier interrupted rewrite did, if anything. */
  recovered: string | null
  warnings: string[]
}

/** What `dletter purge --json` prints. */
export interface PurgeSummary {
  log: string
  target: 'permanent' | 'corrupt'
  dryRun: boolean
  filters: string
  /** Entries deleted (in a dry run: that would be). */
  removed: number
  kept: number
  segments: number
  rewritten: number
  aborted: boolean
  limited: boolean
  recovered: string | null
  warnings: string[]
}
