/**
 * `store.stats(filter)`: counts by state and host, the top failure modes by reason
 * fingerprint across the fleet, and the oldest open entry. Grouping reads the stored,
 * indexed fingerprint column; nothing is normalised at query time.
 */
import { run, type Db } from './db.js'
import { ALL_STATES, OPEN_STATES, compileFilter, type EntryFilter, type EntryState } from './filters.js'
import { NOW_MS, type Tables, UNLEASED } from './schema.js'

export interface FingerprintGroup {
  fingerprint: string
  count: number
  retry: number
  permanent: number
  corrupt: number
  /** Distinct hosts with this failure. */
  hosts: number
  /** One actual reason of the group. */
  example: string | null
  oldestTs: number
  newestTs: number
}

export interface CentralStats {
  total: number
  byState: Record<EntryState, number>
  byHost: Array<{ host: string; count: number }>
  byFingerprint: FingerprintGroup[]
  /** Retry entries due now and not leased by a worker. */
  due: number
  /** `ts` of the oldest open (retry, permanent, corrupt) matching entry, and its age by the server's clock. */
  oldestTs: number | null
  oldestAgeMs: number | null
}

export interface StatsOptions {
  /** Fingerprint groups reported, largest first. Default 20. */
  top?: number
}

/** Fingerprint groups reported unless `top` says otherwise. */
export const STATS_TOP = 20

const n = (v: unknown) => Number(v ?? 0)

export async function centralStats(db: Db, t: Tables, filter?: EntryFilter, opts: StatsOptions = {}): Promise<CentralStats> {
  const f = compileFilter({ ...filter, limit: undefined }, 1, ALL_STATES)
  const top = opts.top ?? STATS_TOP
  const byState = await run<Record<string, unknown>>(
    db,
    'stats',
    `SELECT state, count(*) AS c, min(ts) AS oldest, ${NOW_MS} AS now,
            count(*) FILTER (WHERE state = 'retry' AND due_ts <= ${NOW_MS} AND ${UNLEASED}) AS due
     FROM ${t.entries} WHERE ${f.where} GROUP BY state`,
    f.params,
  )
  const byHost = await run<Record<string, unknown>>(
    db,
    'stats',
    `SELECT host, count(*) AS c FROM ${t.entries} WHERE ${f.where} GROUP BY host ORDER BY c DESC, host LIMIT 1000`,
    f.params,
  )
  const byFp = await run<Record<string, unknown>>(
    db,
    'stats',
    `SELECT fingerprint, count(*) AS c,
            count(*) FILTER (WHERE state = 'retry') AS retry,
            count(*) FILTER (WHERE state = 'permanent') AS permanent,
            count(*) FILTER (WHERE state = 'corrupt') AS corrupt,
            count(DISTINCT host) AS hosts, min(reason) AS example, min(ts) AS oldest, max(ts) AS newest
     FROM ${t.entries} WHERE ${f.where} GROUP BY fingerprint ORDER BY c DESC, fingerprint LIMIT $${f.params.length + 1}`,
    [...f.params, top],
  )
  const states: Record<EntryState, number> = { retry: 0, permanent: 0, corrupt: 0, delivered: 0, purged: 0 }
  let oldest: number | null = null
  let now = Date.now()
  let due = 0
  for (const r of byState.rows) {
    states[r.state as EntryState] = n(r.c)
    now = n(r.now)
    due += n(r.due)
    if (OPEN_STATES.includes(r.state as EntryState) && r.oldest !== null && (oldest === null || n(r.oldest) < oldest)) oldest = n(r.oldest)
  }
  return {
    total: Object.values(states).reduce((a, b) => a + b, 0),
    byState: states,
    byHost: byHost.rows.map((r) => ({ host: r.host as string, count: n(r.c) })),
    byFingerprint: byFp.rows.map((r) => ({
      fingerprint: r.fingerprint as string,
      count: n(r.c),
      retry: n(r.retry),
      permanent: n(r.permanent),
      corrupt: n(r.corrupt),
      hosts: n(r.hosts),
      example: (r.example as string | null) ?? null,
      oldestTs: n(r.oldest),
      newestTs: n(r.newest),
    })),
    due,
    oldestTs: oldest,
    oldestAgeMs: oldest === null ? null : Math.max(0, now - oldest),
  }
}
