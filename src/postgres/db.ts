/**
 * The one seam between the store and a database: `pg`'s Pool for a real server, or an
 * in-process PGlite instance (the demo's embedded default). Everything above speaks SQL with
 * parameters through `query` and `tx`, never string-built values.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { dbError, isTransient } from './errors.js'

export interface QueryResult<R> {
  rows: R[]
  rowCount: number
}

export interface Queryable {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<R>>
}

/**
 * The planner settings of central replay's statements (claim.ts PIN_PLANS says why): sorts,
 * bitmap and sequential scans off, and JIT, which a disabled node's cost would set off.
 */
export const PINNED_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['enable_sort', 'off'],
  ['enable_bitmapscan', 'off'],
  ['enable_seqscan', 'off'],
  ['jit', 'off'],
]

/** PINNED_SETTINGS for the rest of a transaction, in one statement (`set_config(…, true)` is `SET LOCAL`). */
export const PIN_PLANS = `SELECT ${PINNED_SETTINGS.map(([k, v]) => `set_config('${k}', '${v}', true)`).join(', ')}`

export interface Db extends Queryable {
  readonly kind: 'pg' | 'pglite'
  /**
   * One statement, in a transaction of its own, planned with PINNED_SETTINGS: on a server, one
   * round trip on a connection whose session has them (a pool of its own, connected with
   * them as startup options), rather than four (BEGIN, the settings, the statement, COMMIT).
   */
  pinned: Queryable
  /** Run `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** What we use of a PGlite instance (kept structural so PGlite stays an optional package). */
export interface PGliteLike {
  query<R>(text: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>
  transaction<T>(fn: (tx: { query<R>(text: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }> }) => Promise<T>): Promise<T>
}

export function isPGliteLike(v: unknown): v is PGliteLike {
  const x = v as PGliteLike | null
  return !!x && typeof x === 'object' && typeof x.query === 'function' && typeof x.transaction === 'function' && !(v instanceof pg.Pool)
}

export interface PoolOptions {
  max: number
  applicationName: string
  connectTimeout: number
  onIdleError: (err: Error) => void
}

export function poolDb(url: string, o: PoolOptions): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: o.max,
    application_name: o.applicationName,
    connectionTimeoutMillis: o.connectTimeout,
  })
  // An idle client losing its server emits 'error' on the pool; unhandled, it would kill the
  // process. The next query reports the outage as DLQ_DB instead.
  pool.on('error', o.onIdleError)
  // Made only when a pinned statement first runs (a claim, a listing's page): a store that only ships opens no second pool.
  let pinnedPool: pg.Pool | undefined
  const pinnedOf = () => {
    if (!pinnedPool) {
      pinnedPool = new pg.Pool({
        connectionString: url,
        max: o.max,
        application_name: o.applicationName,
        connectionTimeoutMillis: o.connectTimeout,
        options: PINNED_SETTINGS.map(([k, v]) => `-c ${k}=${v}`).join(' '),
      })
      pinnedPool.on('error', o.onIdleError)
    }
    return pinnedPool
  }
  const wrap = (c: { query: (t: string, p?: unknown[]) => Promise<pg.QueryResult> }): Queryable => ({
    async query<R>(text: string, params?: unknown[]) {
      const r = await c.query(text, params)
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 }
    },
  })
  // A pooler that refuses the settings as startup options (PgBouncer 1.20+ takes `-c` only
  // for parameters it tracks) gets them per transaction instead, as PGlite does.
  let refused = false
  const db: Db = {
    kind: 'pg',
    ...wrap(pool),
    pinned: {
      async query<R>(text: string, params?: unknown[]) {
        if (!refused) {
          try {
            return await wrap(pinnedOf()).query<R>(text, params)
          } catch (err) {
            if (!refusesStartupOptions(err)) throw err
            refused = true
          }
        }
        return db.tx(async (q) => {
          await q.query(PIN_PLANS)
          return q.query<R>(text, params)
        })
      },
    },
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect()
      let broken: Error | undefined
      try {
        await client.query('BEGIN')
        const out = await fn(wrap(client))
        await client.query('COMMIT')
        return out
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => {
          broken = e
        })
        throw err
      } finally {
        // A connection that could not roll back is in an unknown state: destroy it.
        client.release(broken)
      }
    },
    close: async () => {
      await Promise.all([pool.end(), pinnedPool?.end()])
    },
  }
  return db
}

/** A server or pooler refused a connection for its startup parameters (SQLSTATE 08P01, protocol violation). */
function refusesStartupOptions(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  return e?.code === '08P01' && /startup parameter/i.test(String(e.message))
}

export function pgliteDb(db: PGliteLike): Db {
  const q = (c: Pick<PGliteLike, 'query'>): Queryable => ({
    async query<R>(text: string, params?: unknown[]) {
      const r = await c.query<R>(text, params)
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length }
    },
  })
  return {
    kind: 'pglite',
    ...q(db),
    // In process: no round trips to save; the settings for one transaction.
    pinned: {
      query: (text, params) =>
        db.transaction(async (t) => {
          await t.query(PIN_PLANS)
          return q(t).query(text, params)
        }),
    },
    tx: (fn) => db.transaction((t) => fn(q(t))),
    // The caller owns the PGlite instance and closes it.
    close: async () => {},
  }
}

/** Run a query and wrap a failure as DLQ_DB naming `action`. */
export async function run<R>(q: Queryable, action: string, text: string, params?: unknown[]): Promise<QueryResult<R>> {
  try {
    return await q.query<R>(text, params)
  } catch (err) {
    throw dbError(action, err)
  }
}

/** Tries of a transaction that keeps failing for a transient reason before its failure is reported. */
const TRANSIENT_TRIES = 6

/**
 * Run `fn` — one transaction or one statement, which the server rolls back as a whole when
 * it fails — again when it failed for a transient reason (isTransient: a deadlock, a
 * serialization failure), after a short random pause so that the transactions that
 * collided do not collide again. Only for work that is safe to run twice: every caller's
 * statements are guarded (by lease owner, state, ON CONFLICT) so that a second run does
 * what the rolled-back one would have done.
 */
export async function retryTransient<T>(fn: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await fn()
    } catch (err) {
      if (tries >= TRANSIENT_TRIES || !isTransient(err)) throw err
      await sleep(Math.random() * 10 * 2 ** tries)
    }
  }
}
