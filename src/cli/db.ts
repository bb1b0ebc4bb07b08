/**
 * `--db <url>` on stats, inspect, replay, requeue and purge: the same command against the
 * central PostgreSQL store instead of a local log. Which side runs is decided here; stats,
 * inspect, requeue and purge then make the same calls on either (backend.ts); replay.ts runs
 * the central replay, whose options differ. The URL (or $DLETTER_DB) is never printed.
 */
import { type Command, Option } from 'commander'
import { PostgresStore } from '../postgres/index.js'
import { parseIntArg } from './filters.js'
import { usageError } from './output.js'

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
