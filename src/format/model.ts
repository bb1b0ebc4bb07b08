/**
 * One model for both backends: a local log (`dletter`) and the central store
 * (`dletter/postgres`) take the same options and return the same shapes from stats,
 * inspect, requeue and purge. Where a backend has more to say, it says it under `backend`
 * (the only part whose keys differ) or in the central-only `host`/`hosts` fields.
 */
import type { TraceContext } from '../base/trace-context.js'
import type { EditOf, EntryLocation, FinalReason } from './envelope.js'
import type { Lineage } from './lineage.js'

/** Which of a log's three parts an entry is in: the same words in options, results, events and columns. */
export type Kind = 'retry' | 'permanent' | 'corrupt'

/** How an operation ended early: by its signal ('abort') or by `limit`; null when it ran to the end. */
export type Stopped = 'abort' | 'limit' | null

/** A point in time: a Date, epoch ms, an ISO date or date-time (UTC unless it carries an offset), or a duration ago ('2h', '30d'). */
export type TimeInput = Date | number | string

/**
 * Which entries an operation touches. Every given field must hold (AND); the same filter
 * previews (inspect) exactly what requeue or purge change.
 */
export interface EntryFilter {
  /**
   * A RegExp tested against the reason (corrupt entries: the parse error), flags `i`, `g`, `y`
   * and `d` only (`g`/`y` are ignored); a string matches as a substring. Centrally the
   * RegExp's source runs on PostgreSQL's regular expression engine.
   */
  reason?: RegExp | string
  /** The reason's fingerprint, exactly as `ReasonGroup.fingerprint` reports it. */
  fingerprint?: string
  /** This id or one of these ids (non-empty). Corrupt entries have none. */
  id?: string | string[]
  /** Substring of the payload's JSON text (corrupt entries: of the quarantined text). Centrally: jsonb's text form (`{"a": 1}`). */
  payload?: string
  /** attempt >= this (an integer >= 1). */
  attempt?: number
  /** ts >= this. */
  since?: TimeInput
  /** ts < this. */
  until?: TimeInput
  /** ts < now − this: ms or a duration ('30d'), or a time as `until` takes it. Not with `until`. */
  olderThan?: number | string
  /** At most this many entries (listed, moved or removed); an integer >= 1. */
  limit?: number
}

/** Progress of a long operation: locally bytes, centrally rows; `total` is null when unknown. */
export interface Progress {
  done: number
  total: number | null
  items: number
}

/** What every operation takes besides the filter. */
export interface OperationOptions {
  /**
   * Stops the operation: stats and inspect reject with DLQ_ABORTED; requeue and purge end
   * with `stopped: 'abort'` (what changed stays changed; locally the segment in progress is
   * rolled back).
   */
  signal?: AbortSignal
  /** A callback that throws becomes a warning of the result; it never stops the operation. */
  onProgress?: (p: Progress) => void
}

/** Options only a local log takes; the central store rejects them (DLQ_INVALID_OPTION). */
export interface LocalOptions {
  /** Largest record the log was written with (LoggerOptions.maxRecordSize). Default 16 MiB. */
  maxRecordSize?: number | string
  /** requeue/purge: how long to wait for a live writer to seal its active permanent file. Default '5s'. */
  sealTimeout?: number | string
  /**
   * requeue with a transform: the host name written into each repaired entry's `origin` (with
   * the log's path) when it has none yet. Default: the machine's name, as Logger's `host`.
   */
  originHost?: string
}

/** Options only the central store takes; a local log rejects them (DLQ_INVALID_OPTION). */
export interface CentralOptions {
  /** Entries shipped from this host / these hosts. */
  host?: string | string[]
  /** The shipped log's name (ShipOptions.logName; the absolute path by default); a bare file name matches it in any directory. */
  logName?: string
  /** requeue/purge: at most this many entries per second. Default: unlimited. */
  rate?: number
  /** inspect only: list settled rows (kept after delivery or purge until prune()) instead of open entries. */
  settled?: 'delivered' | 'purged'
}

// ------------------------------------------------------------------------------ stats

export interface StatsOptions extends Omit<EntryFilter, 'limit'>, OperationOptions {
  /** Reason groups listed per kind. Default 10. */
  top?: number
  /**
   * Counts only, from kept counts (local: segment metadata and checkpoints, O(segments); central:
   * no grouping queries). Reasons, attempts, byFinal, newest times and nextDueTs are left
   * empty; `exact` says which counts are exact. Locally not with filter fields. Default false.
   */
  fast?: boolean
  /**
   * Group reasons by the last reason each entry failed with ('last', the default) or by the
   * first ('first': what put it in the log, kept across re-logs, requeues and shipping).
   */
  groupBy?: 'first' | 'last'
}

export interface ReasonGroup {
  /** The normalized reason (`fingerprint()`). */
  fingerprint: string
  count: number
  /** The reason of the group's oldest entry (the first stored among equals). */
  example: string | null
  /** Earliest and latest `ts` in the group. */
  oldestTs: number
  newestTs: number
  /** Central only: distinct hosts with this failure. */
  hosts?: number
}

export interface KindStats {
  count: number
  /** Earliest first failure (`firstTs ?? ts`); null when empty. */
  oldestTs: number | null
  /** Latest `ts`; null when empty (and with `fast`). */
  newestTs: number | null
  /** The `top` largest reason groups, by count, then fingerprint (empty with `fast`). */
  reasons: ReasonGroup[]
}

export interface RetryStats extends KindStats {
  /** Due now: no due time, or one at or before `at` (central: and not held by a worker's lease). */
  due: number
  /** Due later than `at`. */
  deferred: number
  nextDueTs: number | null
  /** attempt → entries. */
  attempts: Record<string, number>
}

export interface PermanentStats extends KindStats {
  /** `final` → entries ('unknown' for entries without one). */
  byFinal: Record<string, number>
}

export interface HostStats {
  host: string
  retry: number
  due: number
  permanent: number
  corrupt: number
  /** Earliest first failure among its retry entries. */
  oldestTs: number | null
}

export interface Stats {
  /** When counted (central: the database server's clock). */
  at: number
  retry: RetryStats
  permanent: PermanentStats
  corrupt: KindStats
  /** With `fast`: which counts are exact (false: an estimate); null otherwise. */
  exact: { due: boolean; oldestTs: boolean } | null
  /** Central only: the counts per host, largest first (at most 1000 hosts). */
  hosts?: HostStats[]
  /** What went wrong without failing the call (an `onProgress` callback that threw). */
  warnings: string[]
  backend: LocalStatsBackend | CentralStatsBackend
}

export interface LocalStatsBackend {
  type: 'local'
  /** The log's path (its active file). */
  path: string
  writer: { running: boolean; pid: number | null }
  /** The replay lock; a requeue, purge or ship takes it too: `operation` says which holds it. */
  replay: { running: boolean; pid: number | null; operation: string | null }
  retry: {
    sealedSegments: number
    activeBytes: number
    bytes: number
    /** Segments a replay has partly processed (read from their checkpoint). */
    checkpointed: number
    /** Lines the next replay will quarantine. */
    unparseable: number
    /** A record being written at the end of the active file. */
    partialTail: boolean
  }
  permanent: { sealedSegments: number; activeBytes: number; bytes: number; unparseable: number }
  /** `filesSetAside`: unreadable compressed segments a replay set aside (corrupt-<segment>.gz). */
  corrupt: { bytes: number; filesSetAside: number }
  /** A requeue or purge was killed mid-way; the next replay, requeue or purge settles it. */
  interruptedRewrite: { op: string; source: string; state: string } | null
  /** Files that could not be read to the end (a corrupt .gz): reported, never fatal. */
  readErrors: Array<{ file: string; error: string }>
  /** With `fast`: bytes read to answer. */
  scannedBytes?: number
}

export interface CentralStatsBackend {
  type: 'postgres'
  schema: string
  /** Rows kept after delivery or purge, for exactly-once re-shipping; removed by prune(). Never in counts or listings. */
  settled: { delivered: number; purged: number }
}

// ------------------------------------------------------------------------------ inspect

export interface InspectOptions extends EntryFilter, Pick<OperationOptions, 'signal'> {
  /** Default 'retry' (locally: its pending items, from each segment's checkpoint on). */
  kind?: Kind
  /** 'newest' needs `limit` (memory is bounded by skip + limit). Default 'oldest'. */
  order?: 'oldest' | 'newest'
  /** Matching entries to pass over first. Default 0. */
  skip?: number
}

/**
 * With the trace context log() captured (`tp`, `tpState`, `baggage`) and the lineage
 * (`firstReason`, `history`, `redrives`, `origin` host and log, the opt-in `stack`), as the envelope carries them.
 */
export interface Entry<T = unknown> extends Partial<TraceContext>, Omit<Lineage, 'origin'> {
  kind: Kind
  /** Opaque; `readEntry(path, ref)` / `store.readEntry(ref)` fetch this entry again. */
  ref: string
  /** When it was recorded (corrupt: when it was quarantined). */
  ts: number
  /** Attempts so far; 0 for corrupt entries. */
  attempt: number
  /** The failure reason (corrupt: the parse error). */
  reason: string | null
  /** The normalized reason `stats` groups by. */
  fingerprint: string
  id?: string
  firstTs?: number
  dueTs?: number
  final?: FinalReason
  errorName?: string
  errorCode?: string
  /** A repaired entry: the original it was made from (requeue with a transform). */
  editOf?: EditOf
  /** The parsed payload; absent for corrupt entries. */
  payload?: T
  /** The stored line (central: the record encoded again from its columns). */
  line: string
  /** Where it is stored: the file (central: the file it was shipped from, on `host`) and byte offset. */
  file: string
  offset: number
  /** Corrupt only: the quarantined text (base64 when rawEncoding is 'base64'), whether it is cut, and an over-limit line's own file. */
  raw?: string
  rawEncoding?: string
  rawTruncated?: boolean
  rawFile?: string
  /**
   * Corrupt entries: where the bad line was found (segment, offset, length). Others: the host
   * and log an entry was written to, once it left that log (a ship, a repair); absent while it is there.
   */
  origin?: { segment?: string; offset?: number; length?: number; host?: string; log?: string }
  /** Central only. */
  host?: string
  logName?: string
  /** Central only, listing settled rows: which kind of tombstone. */
  settled?: 'delivered' | 'purged'
}

/** How an `inspect` listing went; complete once iteration has ended. */
export interface InspectSummary {
  /** Entries yielded. */
  entries: number
  /** Matching entries passed over by `skip`. */
  skipped: number
  /** Lines that are not entries, among those read (always 0 centrally). */
  unparseable: number
  /** 'limit' when more entries followed the last one yielded. */
  stopped: Stopped
  /** Files that could not be read to the end (a corrupt .gz): reported, never fatal. */
  readErrors: Array<{ file: string; error: string }>
}

/** What `inspect()` returns: iterate it with `for await`; breaking out stops the read. */
export interface InspectIterable<T = unknown> extends AsyncIterable<Entry<T>> {
  readonly summary: InspectSummary
}

// ------------------------------------------------------------------------------ requeue / purge

/** What requeue and purge both take besides the filter. */
export interface ChangeOptions extends EntryFilter, OperationOptions {
  /** Count what would change and list its top reasons; change nothing (locally: take no lock). Default false. */
  dryRun?: boolean
  /** Why: written to the audit trail (required with requeue's `transform`). */
  why?: string
  /** Who: written to the audit trail. Default `user@host`. */
  actor?: string
}

export interface RequeueOptions extends ChangeOptions {
  /**
   * Which entries to make due again. Default 'permanent'. 'retry' (deferred entries due now)
   * is central-only: a local log refuses it (its replay holds the log while it runs).
   */
  kind?: 'permanent' | 'retry'
  /** Start moved entries over: attempt 1, no due time, no `final`. Default false. */
  resetAttempts?: boolean
  /**
   * Repair before redrive: a function (or the path of a module exporting one) given each
   * selected entry's payload and entry; it returns the new payload, `undefined` to leave the
   * entry where it is, or throws to keep it there (counted with the error). A repaired entry
   * is a new record with `editOf`, attempts reset. Needs `why`.
   */
  transform?: Transform | string
  /**
   * The loop guard: an entry requeued this many times already (its `redrives`) is held back,
   * counted in `heldBack`, unless `force`. Default 3.
   */
  maxRedrives?: number
  /** Move entries at `maxRedrives` too (each still counts one more redrive). Default false. */
  force?: boolean
}

export interface PurgeOptions extends ChangeOptions {
  /** Required: the retry log is never purged (its entries leave through replay). */
  kind: 'permanent' | 'corrupt'
}

/** Repair before redrive: the new payload, `undefined` (leave the entry), or throw (keep it, counted). */
export type Transform = (payload: unknown, entry: Entry) => unknown

/** What a requeue with a transform did (dry run: would do). */
export interface TransformSummary {
  /** The module's path (or the function's name) and the SHA-256 of its source. */
  source: { path?: string; name?: string; sha256: string }
  /** Entries repaired and moved. */
  changed: number
  /** Entries the transform returned `undefined` for: left where they were. */
  untouched: number
  /** Entries left where they were because the transform failed on them, grouped by why. */
  failed: number
  failures: Array<{ reason: string; count: number; example: EntryLocation }>
  /** Dry run: the first changes, as JSON Patches (RFC 6902) with the payloads before and after. */
  preview: Array<{ id?: string; location: EntryLocation; before: unknown; after: unknown; patch: JsonPatchOp[] }>
}

/** One RFC 6902 operation. */
export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test'
  path: string
  value?: unknown
  from?: string
}

/** Where the audit trail of a change went, and how many records it got. */
export interface AuditSummary {
  /** Local: the audit log's path; central: the audit table. */
  where: string
  records: number
  run: string
}

export interface ChangeResult<K extends Kind = Kind> {
  kind: K
  dryRun: boolean
  /** The filter in words ("reason ~ /x/, since 24h"). */
  filter: string
  /** Entries changed (dry run: that would be). */
  count: number
  /** The 10 largest reason groups of those entries. */
  reasons: ReasonGroup[]
  stopped: Stopped
  warnings: string[]
  /** A real run (not a dry run) only. */
  audit?: AuditSummary
  backend: LocalChangeBackend | CentralChangeBackend
}

export interface RequeueResult extends ChangeResult<'permanent' | 'retry'> {
  resetAttempts: boolean
  /** With a transform only. */
  transform?: TransformSummary
  /** The loop guard in force: entries with this many redrives were held back (null with `force`). */
  maxRedrives: number | null
  /** Matching entries left where they were because they reached `maxRedrives` (dry run: that would be). */
  heldBack: number
}

export type PurgeResult = ChangeResult<'permanent' | 'corrupt'>

export interface LocalChangeBackend {
  type: 'local'
  path: string
  /** Entries read and left where they were. */
  kept: number
  segments: number
  rewritten: number
  /** Segments left unchanged because they could not be rewritten safely. */
  skipped: Array<{ segment: string; reason: string }>
  /** What recovery of an earlier interrupted rewrite did, if anything. */
  recovered: string | null
}

export interface CentralChangeBackend {
  type: 'postgres'
  /** Matching entries left alone because a replay worker holds them under a lease; run again once it has settled them. */
  leased: number
}

/** One line of the audit trail: one entry a person or script changed. */
export interface AuditRecord {
  v: 1
  /** When (epoch ms). */
  at: number
  /** The run it belongs to (a UUID shared by the records of one requeue or purge). */
  run: string
  op: 'requeue' | 'purge'
  actor: string
  why: string | null
  /** The filter in words. */
  filter: string
  /** The transform module's path (or function name) and SHA-256; null for a plain requeue or a purge. */
  transform: TransformSummary['source'] | null
  /** The original entry. */
  id?: string
  location: EntryLocation
  /** SHA-256 of the payload's stored JSON text, before and (repairs only) after. */
  before: string
  after?: string
  /** Repairs only: RFC 6902 operations that turn the payload before into the payload after. */
  patch?: JsonPatchOp[]
  /**
   * Repairs only: the patch that turns the payload after back into the payload before. The
   * original leaves the log; with this, its payload can always be rebuilt from the new entry.
   */
  undo?: JsonPatchOp[]
}

/** `readAudit(path, ref, o)` / `store.readAudit(ref, o)`: the audit records that name one entry. */
export interface ReadAuditOptions {
  /** At most this many records, the newest; returned oldest first. */
  limit?: number
}

/**
 * The calls of one backend, with the same options and results on both: a local log's
 * (`logBackend(path)`) or the central store's (a `PostgresStore` is one). The CLI's commands and
 * the inspector's pages run on this, never asking which backend it is.
 */
export interface Backend {
  stats(options: StatsOptions): Promise<Stats>
  inspect(options: InspectOptions): InspectIterable
  readEntry(ref: string): Promise<Entry | undefined>
  readAudit(ref: string, options?: ReadAuditOptions): Promise<AuditRecord[]>
  requeue(options: RequeueOptions): Promise<RequeueResult>
  purge(options: PurgeOptions): Promise<PurgeResult>
  close(): Promise<void>
}

/**
 * The cheap counts of a log, kept as it changes (no scan): what the inspector's overview and
 * /metrics show, per log and per host. The local counts cache (store/counts) keeps these and more.
 */
export interface Counts {
  /** Retry items not yet consumed by a replay. */
  pending: number
  /** Pending items whose due time is ≤ now (no `dueTs` = due). */
  due: number
  /** pending − due. */
  deferred: number
  /** Entries of the permanent log. */
  permanent: number
  /** Records of the corrupt quarantine. */
  corrupt: number
  /** Earliest first-failure time (`firstTs ?? ts`) among pending items; null when none. */
  oldestPendingTs: number | null
}
