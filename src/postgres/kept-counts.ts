/**
 * `store.stats()` from the kept counts (counts-schema.ts): what it reads follows the number of
 * (state, host, fingerprint) keys, never the number of rows. A filter on those three columns
 * only (what the central overview and /metrics ask) is answered here; any other filter scans
 * (stats.ts), using the indexes.
 *
 *   counts by state, host and group   the keys' sums (compacted counts + pending deltas)
 *   oldest / newest of a group,       one probe of entries_group_ts at either end per key
 *   oldest open entry                 (fingerprint, state, host, ts)
 *   due now                           a range of entries_due (due rows, not the backlog)
 *
 * All of it is read in one REPEATABLE READ transaction: the keys and the probes see the same
 * snapshot, so a key counted is a key whose rows the probes find.
 */
import { countTables } from './counts-schema.js'
import { run, type Db, type Queryable } from './db.js'
import type { EntryFilter, EntryState } from './filters.js'
import { ALL_STATES, OPEN_STATES, compileFilter } from './filters.js'
import { NOW_MS, type Tables, UNLEASED } from './schema.js'
import { type CentralStats, type FingerprintGroup, STATS_TOP, type StatsOptions } from './stats.js'

/** The filter fields the kept counts have as columns. */
const KEPT_FIELDS = new Set(['state', 'host', 'fingerprint'])

export function keptCanAnswer(filter: EntryFilter | undefined): boolean {
  return Object.entries(filter ?? {}).every(([k, v]) => v === undefined || KEPT_FIELDS.has(k))
}

/**
 * Fold the pending deltas into `counts`, in one transaction: a reader sees each delta either
 * still pending or folded, never both. One folder at a time (a transaction-scoped advisory
 * lock, not waited for: when another is folding, this one has nothing to do). Only committed
 * deltas are visible to the DELETE; those of transactions still running stay for next time.
 */
export async function compactCounts(db: Db, t: Tables): Promise<void> {
  const c = countTables(t.schema)
  await db.tx(async (q) => {
    const r = await run<{ ok: boolean }>(q, 'fold counts', `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok`, [`dletter-counts:${t.schema}`])
    if (!r.rows[0]?.ok) return
    await run(
      q,
      'fold counts',
      `WITH d AS (DELETE FROM ${c.deltas} RETURNING state, host, fingerprint, n)
       INSERT INTO ${c.counts} AS c (state, host, fingerprint, n)
       SELECT state, host, fingerprint, sum(n) FROM d GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
       ON CONFLICT (state, host, fingerprint) DO UPDATE SET n = c.n + excluded.n`,
    )
    // Only the folder writes `counts`: a key dropped here comes back with its next delta.
    await run(q, 'fold counts', `DELETE FROM ${c.counts} WHERE n = 0`)
  })
}

interface Key {
  state: EntryState
  host: string
  fingerprint: string
  n: number
}

/** Deltas a read may find pending before it folds them (a write; most reads find few). */
const FOLD_AT = 1000

/** The kept count of every key matching `filter` (state, host, fingerprint only), and how many deltas are pending. */
async function keys(q: Queryable, t: Tables, filter: EntryFilter | undefined): Promise<{ keys: Key[]; pending: number }> {
  const c = countTables(t.schema)
  const f = compileFilter(filter, 1, ALL_STATES)
  const r = await run<{ state: EntryState; host: string; fingerprint: string; n: string }>(
    q,
    'stats',
    `SELECT state, host, fingerprint, sum(n) AS n FROM (
       SELECT state, host, fingerprint, n FROM ${c.counts} UNION ALL SELECT state, host, fingerprint, n FROM ${c.deltas}) AS k
     WHERE ${f.where} GROUP BY 1, 2, 3 HAVING sum(n) <> 0`,
    f.params,
  )
  const p = await run<{ n: string }>(q, 'stats', `SELECT count(*) AS n FROM ${c.deltas}`)
  return { keys: r.rows.map((row) => ({ state: row.state, host: row.host, fingerprint: row.fingerprint, n: Number(row.n) })), pending: Number(p.rows[0]!.n) }
}

interface Probe {
  lo: number | null
  hi: number | null
  reason: string | null
}

/**
 * Oldest `ts` of each key; for the groups reported (`full`) also the newest and the oldest's
 * reason. One probe of entries_group_ts per end; without `full` it reads the index alone
 * (an index-only scan where the table is all-visible), no table page.
 */
async function probe(q: Queryable, t: Tables, ks: Key[], full: boolean): Promise<Probe[]> {
  if (ks.length === 0) return []
  const key = `e.fingerprint = k.fp AND e.state = k.st AND e.host = k.h`
  const r = await run<{ lo: string | null; hi: string | null; reason: string | null }>(
    q,
    'stats',
    `SELECT (SELECT e.ts FROM ${t.entries} e WHERE ${key} ORDER BY e.ts LIMIT 1) AS lo,
            ${full ? `(SELECT e.reason FROM ${t.entries} e WHERE ${key} ORDER BY e.ts LIMIT 1)` : 'NULL'} AS reason,
            ${full ? `(SELECT e.ts FROM ${t.entries} e WHERE ${key} ORDER BY e.ts DESC LIMIT 1)` : 'NULL'} AS hi
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(fp, st, h, i)
     ORDER BY k.i`,
    [ks.map((k) => k.fingerprint), ks.map((k) => k.state), ks.map((k) => k.host)],
  )
  return r.rows.map((row) => ({ lo: row.lo === null ? null : Number(row.lo), hi: row.hi === null ? null : Number(row.hi), reason: row.reason }))
}

export async function keptStats(db: Db, t: Tables, filter: EntryFilter | undefined, opts: StatsOptions = {}): Promise<CentralStats> {
  const top = opts.top ?? STATS_TOP
  let pending = 0
  const stats = await db.tx(async (q) => {
    await run(q, 'stats', 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
    // Probes walk entries_group_ts whatever the planner's statistics say.
    await run(q, 'stats', `SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)`)
    const read = await keys(q, t, filter)
    const ks = read.keys
    pending = read.pending
    const byState: Record<EntryState, number> = { retry: 0, permanent: 0, corrupt: 0, delivered: 0, purged: 0 }
    const hosts = new Map<string, number>()
    const groups = new Map<string, { g: FingerprintGroup; hosts: Set<string>; keys: Key[] }>()
    for (const k of ks) {
      byState[k.state] += k.n
      hosts.set(k.host, (hosts.get(k.host) ?? 0) + k.n)
      let g = groups.get(k.fingerprint)
      if (!g) {
        g = { g: { fingerprint: k.fingerprint, count: 0, retry: 0, permanent: 0, corrupt: 0, hosts: 0, example: null, oldestTs: 0, newestTs: 0 }, hosts: new Set(), keys: [] }
        groups.set(k.fingerprint, g)
      }
      g.g.count += k.n
      if (k.state === 'retry' || k.state === 'permanent' || k.state === 'corrupt') g.g[k.state] += k.n
      g.hosts.add(k.host)
      g.keys.push(k)
    }
    const topGroups = [...groups.values()]
      .sort((a, b) => b.g.count - a.g.count || (a.g.fingerprint < b.g.fingerprint ? -1 : a.g.fingerprint > b.g.fingerprint ? 1 : 0))
      .slice(0, top)
    const groupKeys = topGroups.flatMap((g) => g.keys)
    const groupProbes = await probe(q, t, groupKeys, true)
    let i = 0
    for (const g of topGroups) {
      g.g.hosts = g.hosts.size
      let lo: number | null = null
      for (const _ of g.keys) {
        const p = groupProbes[i++]!
        if (p.lo !== null && (lo === null || p.lo < lo)) {
          lo = p.lo
          g.g.example = p.reason
        }
        if (p.hi !== null && p.hi > g.g.newestTs) g.g.newestTs = p.hi
      }
      g.g.oldestTs = lo ?? 0
    }
    const openKeys = ks.filter((k) => OPEN_STATES.includes(k.state))
    let oldest: number | null = null
    for (const p of await probe(q, t, openKeys, false)) if (p.lo !== null && (oldest === null || p.lo < oldest)) oldest = p.lo
    const due = await dueNow(q, t, filter, byState.retry > 0)
    const now = due.now
    return {
      total: Object.values(byState).reduce((a, b) => a + b, 0),
      byState,
      byHost: [...hosts].map(([host, count]) => ({ host, count })).sort((a, b) => b.count - a.count || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)).slice(0, 1000),
      byFingerprint: topGroups.map((g) => g.g),
      due: due.count,
      oldestTs: oldest,
      oldestAgeMs: oldest === null ? null : Math.max(0, now - oldest),
    }
  })
  if (pending >= FOLD_AT) await compactCounts(db, t)
  return stats
}

/** Retry entries due now and not leased: a range of entries_due, as a claim walks it. */
async function dueNow(q: Queryable, t: Tables, filter: EntryFilter | undefined, any: boolean): Promise<{ count: number; now: number }> {
  const f = compileFilter({ ...filter, state: 'retry' }, 1)
  const r = await run<{ c: string; now: string }>(
    q,
    'stats',
    any
      ? `SELECT count(*) AS c, ${NOW_MS} AS now FROM ${t.entries} WHERE ${f.where} AND due_ts <= (SELECT ${NOW_MS}) AND ${UNLEASED}`
      : `SELECT 0 AS c, ${NOW_MS} AS now`,
    any ? f.params : [],
  )
  return { count: Number(r.rows[0]!.c), now: Number(r.rows[0]!.now) }
}
