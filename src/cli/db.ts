/**
 * `--db <url>` on stats, inspect, replay, requeue and purge: the same command against the
 * central PostgreSQL store instead of a local log. The command files only decide which side
 * runs; everything the database side prints is here. The URL (or $DLETTER_DB) is never printed.
 */
import { type Command, Option } from 'commander'
import { PostgresStore, redactUrl } from '../postgres/index.js'
import type { EntryFilter, EntryState } from '../postgres/filters.js'
import type { EntryFilter as LocalFilter } from '../admin/types.js'
import { timeOf } from '../postgres/filters.js'
import { parseIntArg } from './filters.js'
import { EXIT, formatDuration, formatTime, padStart, preview, stdoutWrite, terminalSafe, usageError } from './output.js'
import { abortOnSignals } from './common.js'
import type { CentralEntry } from '../postgres/entry.js'
import type { RedriveResult } from '../postgres/redrive.js'

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

/** The local command's filter (from its flags), plus the state picked by --permanent / --corrupt, as a central filter. */
export function centralFilter(f: LocalFilter, state: EntryState | EntryState[], host: string | undefined, now = Date.now()): EntryFilter {
  const { olderThan, ...rest } = f
  const out: EntryFilter = { ...rest, state }
  // The CLI's --older-than is a duration ago or an ISO date: a bound on ts either way.
  if (olderThan !== undefined) out.until = typeof olderThan === 'string' ? timeOf('olderThan', olderThan, now) : now - olderThan
  if (host !== undefined) out.host = host
  return out
}

export async function dbStats(url: string, flags: DbFlags & { top: number; json?: boolean }): Promise<number> {
  const s = await withStore(url, undefined, (store) => store.stats(flags.host !== undefined ? { host: flags.host } : {}, { top: flags.top }))
  if (flags.json) {
    stdoutWrite(JSON.stringify({ store: redactUrl(url), at: Date.now(), ...s }) + '\n')
    return EXIT.OK
  }
  const lines = [
    `${where(url)}${flags.host !== undefined ? ` (host ${flags.host})` : ''}: ${s.total} entries`,
    `  ${Object.entries(s.byState).map(([k, v]) => `${k} ${v}`).join(', ')}; due now ${s.due}` +
      (s.oldestAgeMs !== null ? `; oldest open entry ${formatDuration(s.oldestAgeMs)} old` : ''),
    `  by host: ${s.byHost.slice(0, 20).map((h) => `${h.host} ${h.count}`).join(', ') || '—'}`,
    `  top reasons (normalized):`,
    ...s.byFingerprint.map((g) => `  ${padStart(g.count, 8)}  ${g.fingerprint}  [retry ${g.retry}, permanent ${g.permanent}, corrupt ${g.corrupt}; ${g.hosts} host(s)]`),
  ]
  stdoutWrite(lines.join('\n') + '\n')
  return EXIT.OK
}

function stateOf(flags: { permanent?: boolean; corrupt?: boolean }): EntryState {
  return flags.corrupt ? 'corrupt' : flags.permanent ? 'permanent' : 'retry'
}

/** An entry as one JSON line: the envelope's fields, then where it lives. */
function entryJson(e: CentralEntry): string {
  const env: Record<string, unknown> = { ts: e.ts, attempt: e.attempt, reason: e.reason }
  if (e.id !== undefined) env.id = e.id
  if (e.firstTs !== undefined) env.firstTs = e.firstTs
  if (e.dueTs !== undefined) env.dueTs = e.dueTs
  if (e.errorName !== undefined) env.errorName = e.errorName
  if (e.errorCode !== undefined) env.errorCode = e.errorCode
  if (e.final !== undefined) env.final = e.final
  Object.assign(env, { host: e.host, log: e.log, state: e.state, seq: e.seq, fingerprint: e.fingerprint })
  if (e.raw !== undefined) env.raw = e.raw
  env.payload = e.payload
  return JSON.stringify(env)
}

export async function dbInspect(
  url: string,
  f: LocalFilter,
  flags: DbFlags & { permanent?: boolean; corrupt?: boolean; json?: boolean; human?: boolean },
): Promise<number> {
  const json = flags.json === true || (!flags.human && !process.stdout.isTTY)
  await withStore(url, undefined, async (store) => {
    for await (const e of store.inspect(centralFilter(f, stateOf(flags), flags.host))) {
      const line = json
        ? entryJson(e)
        : `${formatTime(e.ts)}  ${e.host}  ${e.state}  attempt ${e.attempt}${e.id !== undefined ? `  id=${e.id}` : ''}  ${preview(e.reason ?? '(no reason)', 120)}  ${preview(e.raw ?? JSON.stringify(e.payload) ?? '', 200)}`
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

/** `extra`: the local command's --json fields that apply (moved / removed, target, resetAttempts). */
function printRedrive(url: string, verb: string, r: RedriveResult, json: boolean | undefined, extra: Record<string, unknown>): void {
  if (json) {
    stdoutWrite(JSON.stringify({ store: redactUrl(url), dryRun: r.dryRun, ...extra, count: r.count, leased: r.leased, topReasons: r.topReasons, aborted: r.stopped }) + '\n')
    return
  }
  const head = r.dryRun ? `dry run: ${r.count} entries of the ${where(url)} would be ${verb}; nothing was changed` : `${verb} ${r.count} entries of the ${where(url)}${r.stopped ? ' (interrupted)' : ''}`
  stdoutWrite([head, ...r.topReasons.map((t) => `  ${padStart(t.count, 8)}  ${t.fingerprint}`)].join('\n') + '\n')
}

export async function dbRequeue(url: string, f: LocalFilter, flags: DbFlags & { resetAttempts?: boolean; dryRun?: boolean; json?: boolean }): Promise<number> {
  const r = await withStore(url, undefined, (store) =>
    store.requeue(centralFilter(f, 'permanent', flags.host), {
      dryRun: flags.dryRun === true,
      resetAttempts: flags.resetAttempts === true,
      ...(flags.rate !== undefined ? { rate: flags.rate } : {}),
    }),
  )
  printRedrive(url, 'requeued', r, flags.json, { resetAttempts: flags.resetAttempts === true, moved: r.count })
  return EXIT.OK
}

export async function dbPurge(
  url: string,
  f: LocalFilter,
  flags: DbFlags & { permanent?: boolean; corrupt?: boolean; yes?: boolean; dryRun?: boolean; json?: boolean },
): Promise<number> {
  if (!flags.dryRun && !flags.yes) throw usageError('purge changes the central store: add --yes to confirm (or --dry-run to count first)')
  const r = await withStore(url, undefined, (store) =>
    store.purge(centralFilter(f, stateOf(flags), flags.host), { dryRun: flags.dryRun === true, ...(flags.rate !== undefined ? { rate: flags.rate } : {}) }),
  )
  printRedrive(url, 'purged', r, flags.json, { target: stateOf(flags), removed: r.count })
  return EXIT.OK
}
