/**
 * `--db <url>` on stats, inspect, replay, requeue and purge: the same command against the
 * central PostgreSQL store instead of a local log. Which side runs is decided here; stats,
 * inspect, requeue and purge then make the same calls on either (backend.ts), and only the
 * central replay, whose options differ, is run here. The URL (or $DLETTER_DB) is never printed.
 */
import { type Command, Option } from 'commander'
import { type CentralEntry, PostgresStore } from '../postgres/index.js'
import { redactUrl } from '../base/redact.js'
import { parseIntArg } from './filters.js'
import { EXIT, formatDuration, padStart, stdoutWrite, usageError } from './output.js'
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
