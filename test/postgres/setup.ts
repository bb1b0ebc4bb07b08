/**
 * Shared by the test/postgres files: one throwaway cluster per file (started in beforeAll,
 * removed in afterAll) and a fresh schema per store, so tests never see each other's rows.
 */
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'
import { type PGliteLike, PostgresStore } from '../../src/postgres/index.js'
import type { CentralStatsBackend, Entry, InspectOptions, CentralOptions, StatsOptions } from '../../src/postgres/index.js'
import type { ConnectOptions } from '../../src/postgres/options.js'
import { type Cluster, startCluster } from './cluster.js'

export interface ClusterRef {
  readonly url: string
  readonly cluster: Cluster
  /** A store on a schema of its own; closed after the file. */
  store(opts?: ConnectOptions): Promise<PostgresStore>
}

let schemaSeq = 0

/**
 * A plain client on the file's cluster, connected before the file's own hooks run (register it
 * after useCluster): for the server's own views — EXPLAIN, pg_stat, the catalogs.
 */
export function useAdmin(cluster: ClusterRef): Pick<pg.Client, 'query'> {
  let client: pg.Client | undefined
  beforeAll(async () => {
    client = new pg.Client({ connectionString: cluster.url })
    await client.connect()
  })
  afterAll(async () => {
    await client?.end()
  })
  return { query: ((...args: Parameters<pg.Client['query']>) => (client!.query as (...a: unknown[]) => unknown)(...args)) as pg.Client['query'] }
}

export function useCluster(): ClusterRef {
  let cluster: Cluster | undefined
  const stores: PostgresStore[] = []
  beforeAll(async () => {
    cluster = await startCluster()
  }, 120_000)
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {})
    cluster?.destroy()
  }, 60_000)
  return {
    get url() {
      return cluster!.url
    },
    get cluster() {
      return cluster!
    },
    async store(opts: ConnectOptions = {}) {
      const s = await PostgresStore.connect(cluster!.url, { schema: `t${process.pid}_${++schemaSeq}`, host: 'host-a', ...opts })
      stores.push(s)
      return s
    },
  }
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/**
 * Every open entry (retry, permanent and corrupt) in shipping order, as one listing: `limit`
 * and the filter apply as they would to a listing of all three kinds.
 */
export async function allEntries(store: PostgresStore, options: Omit<InspectOptions, 'kind'> & CentralOptions = {}): Promise<Entry[]> {
  const out: Entry[] = []
  // Corrupt entries have no id or attempt: a filter on those leaves them out.
  const kinds = options.id !== undefined || options.attempt !== undefined ? (['retry', 'permanent'] as const) : (['retry', 'permanent', 'corrupt'] as const)
  for (const kind of kinds) out.push(...(await collect(store.inspect({ ...options, kind }))))
  return out.sort((a, b) => Number(a.ref) - Number(b.ref)).slice(0, options.limit ?? Infinity)
}

/** Rows per state, the settled ones (kept until prune()) included. */
export async function byState(store: PostgresStore, options: StatsOptions & CentralOptions = {}): Promise<Record<'retry' | 'permanent' | 'corrupt' | 'delivered' | 'purged', number>> {
  const s = await store.stats(options)
  return { retry: s.retry.count, permanent: s.permanent.count, corrupt: s.corrupt.count, ...(s.backend as CentralStatsBackend).settled }
}

/** All rows, settled ones included. */
export async function rowCount(store: PostgresStore): Promise<number> {
  return Object.values(await byState(store)).reduce((a, b) => a + b, 0)
}

/** Log `n` entries (payload `{ n: i }`, reason from `reason(i)`) into a fresh local log and ship them. */
export async function seed(
  store: PostgresStore,
  dir: string,
  n: number,
  opts: { name?: string; reason?: (i: number) => unknown; attempt?: number; permanent?: (i: number) => boolean; id?: (i: number) => string } = {},
): Promise<string> {
  const { Logger } = await import('../../src/index.js')
  const path = await import('node:path')
  const logPath = path.join(dir, opts.name ?? 'seed.log')
  const dlq = await Logger.open(logPath)
  for (let i = 0; i < n; i++) {
    const reason = opts.reason ? opts.reason(i) : 'boom'
    const o = opts.id ? { id: opts.id(i) } : undefined
    if (opts.permanent?.(i)) await dlq.logPermanent({ n: i }, reason, opts.attempt ?? 1, o)
    else await dlq.log({ n: i }, reason, opts.attempt ?? 1, o)
  }
  await dlq.close()
  await store.ship(logPath)
  return logPath
}

/** The rejection of `p` (a test fails if it resolves). */
export async function rejection(p: Promise<unknown> | (() => unknown)): Promise<{ code?: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return err as { code?: string; message: string }
  }
  throw new Error('expected a rejection')
}

/**
 * Handler calls per entry, as the handlers report them (from any process): who entered and
 * left which entry, and every time one entered an entry another was still inside.
 */
export function handlerTracker() {
  const inside = new Map<number, string>()
  const entered: Array<[string, number]> = []
  const exited: string[] = []
  const overlaps: string[] = []
  return {
    entered,
    exited,
    overlaps,
    enter(who: string, n: number) {
      const other = inside.get(n)
      if (other !== undefined) overlaps.push(`entry ${n}: ${who} entered while ${other} was inside`)
      inside.set(n, who)
      entered.push([who, n])
    },
    exit(who: string, n: number) {
      if (inside.get(n) === who) inside.delete(n)
      exited.push(`${who}:${n}`)
    },
  }
}

/** The schema a store of `useCluster().store()` works in (private to the store). */
export const schemaOf = (s: unknown): string => (s as { tables: { schema: string } }).tables.schema

/**
 * One store per file over an in-process PGlite (no server), for tests that need a store but
 * not a real PostgreSQL: option checks, path resolution.
 */
export function usePGliteStore(host = 'pglite'): { readonly store: PostgresStore; readonly db: PGliteLike } {
  let db: PGlite | undefined
  let store: PostgresStore | undefined
  beforeAll(async () => {
    db = new PGlite()
    store = await PostgresStore.connect(db as unknown as PGliteLike, { host })
  }, 60_000)
  afterAll(async () => {
    await store?.close()
    await db?.close()
  })
  return {
    get store() {
      return store!
    },
    get db() {
      return db as unknown as PGliteLike
    },
  }
}
