/**
 * `--db <url>` on stats, inspect, replay, requeue and purge: the same command against the
 * central PostgreSQL store instead of a local log. The command files only decide which side
 * runs; everything the database side prints is here. The URL (or $DLETTER_DB) is never printed.
 */
import { type Command, Option } from 'commander'
import { type CentralEntry, PostgresStore } from '../postgres/index.js'
import { redactUrl } from '../base/redact.js'
import type { ChangeResult, CentralChangeBackend, Entry, EntryFilter, Kind, RequeueResult } from '../format/model.js'
import { parseIntArg } from './filters.js'
import { EXIT, formatDuration, formatTime, padStart, preview, reasonWithFirst, stdoutWrite, terminalSafe, usageError } from './output.js'
import { type AuditFlags, auditOptions, transformText } from './audit-flags.js'
import { abortOnSignals } from './common.js'

export interface DbFlags {
  db?: string
  host?: string
  rate?: number
}

/** Adds --db and --host (the latter only filters central entries), and --rate for redrives. */
export function addDbOptions(cmd: Command, opts: { rate?: boolean } = {}): Command {
  cmd
    .addOption(new Option('--db <url>', 'work on the central PostgreSQL store instead of a local log (default when no LOG is given: $DLETTER_DB)'))
    .addOption(new Option('--host <name>', 'with --db: only entries shipped from this host'))
  if (opts.rate) cmd.addOption(new Option('--rate <n>', 'with --db: change at most n entries per second').argParser(parseIntArg(1)))
  return cmd
}

/** The URL to use for a ship: --db, else $DLETTER_DB, else a usage error. */
export function dbUrlFor(flag: string | undefined): string {
  const url = flag ?? process.env.DLETTER_DB
  if (!url || url.trim() === '') throw usageError('no database: pass --db <url> or set DLETTER_DB')
  return url
}

/**
 * Which side a command runs on: the central store when --db is given, or when no LOG is
 * given and $DLETTER_DB is set; otherwise the local log (undefined).
 */
export function centralTarget(log: string | undefined, flags: DbFlags): string | undefined {
  if (flags.db !== undefined) {
    if (log) throw usageError('give either a LOG path or --db, not both')
    return dbUrlFor(flags.db)
  }
  if (flags.host !== undefined && !log && !process.env.DLETTER_DB) throw usageError('--host needs --db (or DLETTER_DB)')
  if (log) {
    if (flags.host !== undefined) throw usageError('--host applies to the central store only (--db)')
    return undefined
  }
  if (process.env.DLETTER_DB) return process.env.DLETTER_DB
  throw usageError("missing required argument 'log' (or --db <url> / DLETTER_DB for the central store)")
}

export async function withStore<T>(url: string, host: string | undefined, fn: (s: PostgresStore) => Promise<T>): Promise<T> {
  const store = await PostgresStore.connect(url, host !== undefined ? { host } : {})
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

export function where(url: string): string {
  return `central store ${redactUrl(url)}`
}

/** The local command's filter (from its flags), the kind picked by --permanent / --corrupt, and --host. */
function centralOptions(f: EntryFilter, kind: Kind, host: string | undefined) {
  return { ...f, kind, ...(host !== undefined ? { host } : {}) }
}

export async function dbStats(url: string, flags: DbFlags & { top: number; groupBy?: 'first' | 'last'; json?: boolean }): Promise<number> {
  const s = await withStore(url, undefined, (store) => store.stats({ top: flags.top, groupBy: flags.groupBy ?? 'last', ...(flags.host !== undefined ? { host: flags.host } : {}) }))
  if (flags.json) {
    stdoutWrite(JSON.stringify({ store: redactUrl(url), ...s }) + '\n')
    return EXIT.OK
  }
  const kinds = ['retry', 'permanent', 'corrupt'] as const
  const oldest = s.retry.oldestTs
  const lines = [
    `${where(url)}${flags.host !== undefined ? ` (host ${flags.host})` : ''}: ${kinds.reduce((n, k) => n + s[k].count, 0)} entries`,
    `  ${kinds.map((k) => `${k} ${s[k].count}`).join(', ')}; due now ${s.retry.due}` +
      (oldest !== null ? `; oldest retry entry first failed ${formatDuration(Math.max(0, s.at - oldest))} ago` : ''),
    `  by host: ${(s.hosts ?? []).slice(0, 20).map((h) => `${h.host} ${h.retry + h.permanent + h.corrupt}`).join(', ') || '—'}`,
    `  top reasons (normalized):`,
    ...kinds.flatMap((k) => s[k].reasons.map((g) => `  ${padStart(g.count, 8)}  ${g.fingerprint}  [${k}; ${g.hosts ?? 0} host(s)]`)),
  ]
  stdoutWrite(lines.join('\n') + '\n')
  return EXIT.OK
}

function kindOf(flags: { permanent?: boolean; corrupt?: boolean }): Kind {
  return flags.corrupt ? 'corrupt' : flags.permanent ? 'permanent' : 'retry'
}

/** An entry as one JSON line: its fields, without the stored line they repeat. */
function entryJson(e: Entry): string {
  const { line: _line, ...fields } = e
  return JSON.stringify(fields)
}

export async function dbInspect(
  url: string,
  f: EntryFilter,
  flags: DbFlags & { permanent?: boolean; corrupt?: boolean; json?: boolean; human?: boolean },
): Promise<number> {
  const json = flags.json === true || (!flags.human && !process.stdout.isTTY)
  await withStore(url, undefined, async (store) => {
    for await (const e of store.inspect(centralOptions(f, kindOf(flags), flags.host))) {
      const line = json
        ? entryJson(e)
        : `${formatTime(e.ts)}  ${e.host}  ${e.kind}  attempt ${e.attempt}${e.redrives ? ` ↻${e.redrives}` : ''}${e.id !== undefined ? `  id=${e.id}` : ''}  ` +
          `${preview(reasonWithFirst(e), 120)}  ` +
          `${preview(e.raw ?? JSON.stringify(e.payload) ?? '', 200)}`
      if (!stdoutWrite(line + '\n')) await new Promise((r) => process.stdout.once('drain', r))
    }
  })
  return EXIT.OK
}

export interface DbReplayFlags extends DbFlags {
  maxAttempts?: number
  initialWait?: string
  maxWait?: string
  concurrency?: number
  ttl?: string
  limit?: number
  handlerTimeout?: string
  trace?: boolean
  traceParent?: 'link' | 'child'
  json?: boolean
  [other: string]: unknown
}

/** Local-only replay flags: checkpoints, sealing and in-place retries have no central meaning. */
const LOCAL_ONLY = ['retries', 'retryDelay', 'checkpointEvery', 'checkpointInterval', 'sealTimeout', 'maxRecordSize', 'dryRun']

export async function dbReplay(url: string, handler: (p: unknown, e: CentralEntry) => unknown, flags: DbReplayFlags): Promise<number> {
  for (const k of LOCAL_ONLY) {
    if (flags[k] !== undefined && flags[k] !== false) throw usageError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} applies to a local log, not to --db`)
  }
  const stop = abortOnSignals(() => process.stderr.write('dletter: stopping: claimed entries in flight finish, the rest is given back\n'))
  try {
    const s = await withStore(url, undefined, (store) =>
      store.replay(handler, {
        ...(flags.maxAttempts !== undefined ? { maxAttempts: flags.maxAttempts } : {}),
        ...(flags.initialWait !== undefined ? { initialWait: flags.initialWait } : {}),
        ...(flags.maxWait !== undefined ? { maxWait: flags.maxWait } : {}),
        ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
        ...(flags.ttl !== undefined ? { ttl: flags.ttl } : {}),
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
        ...(flags.handlerTimeout !== undefined ? { handlerTimeout: flags.handlerTimeout } : {}),
        ...(flags.host !== undefined ? { host: flags.host } : {}),
        ...(flags.trace !== undefined ? { trace: flags.trace } : {}),
        ...(flags.traceParent !== undefined ? { traceParent: flags.traceParent } : {}),
        signal: stop.signal,
      }),
    )
    if (flags.json) stdoutWrite(JSON.stringify(s) + '\n')
    else {
      const row = (label: string, n: number, what: string) => `  ${label.padEnd(10)}${padStart(n, 8)}  ${what}\n`
      stdoutWrite(
        `replay of the ${where(url)}${s.stopped === 'abort' ? ' (aborted)' : s.stopped === 'limit' ? ' (stopped at --limit)' : ''}\n` +
          `  ${s.handled} entries in ${formatDuration(s.durationMs)}\n` +
          row('delivered', s.delivered, 'handler succeeded') +
          row('requeued', s.requeued, 'failed again; attempt+1 and a backoff due time') +
          row('permanent', s.permanent, 'out of attempts or PermanentError') +
          row('expired', s.expired, 'older than --ttl') +
          (s.released > 0 ? row('released', s.released, 'claimed but not started (stopped, or the lease ran short); given back') : ''),
      )
    }
  } finally {
    stop.dispose()
  }
  return EXIT.OK
}

function printRedrive(url: string, verb: string, r: ChangeResult, json: boolean | undefined): void {
  if (json) {
    stdoutWrite(JSON.stringify({ store: redactUrl(url), ...r }) + '\n')
    return
  }
  const leased = (r.backend as CentralChangeBackend).leased
  const guard = (r as Partial<RequeueResult>).heldBack
  const held =
    (leased > 0 ? `; ${leased} held by a replay worker left alone` : '') +
    (guard ? `; ${guard} held back: already requeued ${(r as RequeueResult).maxRedrives} times, the --max-redrives limit (--force moves them)` : '')
  const head = r.dryRun
    ? `dry run: ${r.count} entries of the ${where(url)} would be ${verb}${held}; nothing was changed`
    : `${verb} ${r.count} entries of the ${where(url)}${r.stopped === 'abort' ? ' (interrupted)' : ''}${held}`
  stdoutWrite([head, ...r.reasons.map((t) => `  ${padStart(t.count, 8)}  ${t.fingerprint}`)].join('\n') + '\n')
}

/** --max-redrives / --force as requeue options (a local log and the central store take the same). */
export function redriveFlags(flags: { maxRedrives?: number; force?: boolean }): { maxRedrives?: number; force?: boolean } {
  return { ...(flags.maxRedrives !== undefined ? { maxRedrives: flags.maxRedrives } : {}), ...(flags.force ? { force: true } : {}) }
}

export async function dbRequeue(
  url: string,
  f: EntryFilter,
  flags: DbFlags & AuditFlags & { transform?: string; resetAttempts?: boolean; maxRedrives?: number; force?: boolean; dryRun?: boolean; json?: boolean },
): Promise<number> {
  const r = await withStore(url, undefined, (store) =>
    store.requeue({
      ...centralOptions(f, 'permanent', flags.host),
      kind: 'permanent',
      dryRun: flags.dryRun === true,
      resetAttempts: flags.resetAttempts === true,
      ...redriveFlags(flags),
      ...auditOptions(flags),
      ...(flags.rate !== undefined ? { rate: flags.rate } : {}),
    }),
  )
  if (r.transform && !flags.json) stdoutWrite(transformText(r.transform, r.dryRun))
  printRedrive(url, 'requeued', r, flags.json)
  return EXIT.OK
}

export async function dbPurge(
  url: string,
  f: EntryFilter,
  flags: DbFlags & AuditFlags & { permanent?: boolean; corrupt?: boolean; yes?: boolean; dryRun?: boolean; json?: boolean },
): Promise<number> {
  if (!flags.dryRun && !flags.yes) throw usageError('purge changes the central store: add --yes to confirm (or --dry-run to count first)')
  const kind = flags.corrupt ? 'corrupt' : 'permanent'
  const r = await withStore(url, undefined, (store) =>
    store.purge({ ...centralOptions(f, kind, flags.host), kind, dryRun: flags.dryRun === true, ...auditOptions(flags), ...(flags.rate !== undefined ? { rate: flags.rate } : {}) }),
  )
  printRedrive(url, 'purged', r, flags.json)
  return EXIT.OK
}
