/**
 * `store.stats()` from the kept counts (counts-schema.ts): the same `Stats` the scan (stats.ts)
 * gives, but what it reads follows the number of (state, host, fingerprint) keys, not the
 * number of rows. A filter on host and fingerprint only (what the central overview and /metrics
 * ask) is answered here; any other filter scans (stats.ts), using the indexes.
 *
 *   counts per kind, host and group,  the keys' sums (compacted counts + pending deltas); a
 *     attempts, byFinal                 key also has a retry row's attempt and a permanent one's final
 *   a kind's or host's oldestTs       one probe of entries_group_first per key
 *   newestTs, a group's oldest entry  probes of entries_group_ts at either end per key (not
 *     (example) and newest            with `fast`; groups only for the candidates of `top`)
 *   due, deferred                     the due buckets before now's (DUE_BUCKET_MS), a range of
 *                                     entries_due inside now's bucket, less the leased due rows:
 *                                     a walk of entries_due that stops after the leased rows
 *                                     the keys count (none: no walk)
 *
 * All of it is read in one REPEATABLE READ transaction: the keys and the probes see the same
 * snapshot, so a key counted is a key whose rows the probes find.
 */
import { countTables, DUE_BUCKET_MS, foldLock, KEY_COLUMNS, OPEN_STATES } from './counts-schema.js'
import type { NormalFilter } from '../format/filter.js'
import type { CentralStatsBackend, HostStats, ReasonGroup, Stats } from '../format/model.js'
import { byRank } from '../format/reasons.js'
import { run, type Db, type Queryable } from './db.js'
import { type CentralScope, type CompiledFilter, compileFilter, type EntryState } from './filters.js'
import { NO_JIT, NOW_MS, type Tables } from './schema.js'
import { emptyStats } from './stats.js'

/** The filter fields the kept counts have as columns (text, narrows and limit only describe it). */
const KEPT_FILTER = new Set(['fingerprint', 'text', 'narrows', 'limit'])

export function keptCanAnswer(filter: NormalFilter, scope: CentralScope): boolean {
  const only = (o: object, keys: Set<string>) => Object.entries(o).every(([k, v]) => v === undefined || keys.has(k))
  return only(filter, KEPT_FILTER) && only(scope, new Set(['host']))
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
    const r = await run<{ ok: boolean }>(q, 'fold counts', `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok`, [foldLock(t.schema)])
    if (!r.rows[0]?.ok) return
    await run(
      q,
      'fold counts',
      `WITH d AS (DELETE FROM ${c.deltas} RETURNING ${KEY_COLUMNS}, n)
       INSERT INTO ${c.counts} AS c (${KEY_COLUMNS}, n)
       SELECT ${KEY_COLUMNS}, sum(n) FROM d GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
       ON CONFLICT (${KEY_COLUMNS}) DO UPDATE SET n = c.n + excluded.n`,
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

type OpenKind = 'retry' | 'permanent' | 'corrupt'
const OPEN_KINDS: readonly EntryState[] = ['retry', 'permanent', 'corrupt']

/** Deltas a read may find pending before it folds them (a write; most reads find few). */
const FOLD_AT = 1000

/** A host's retry rows in due buckets before `at`'s, in `at`'s bucket, and leased. */
interface RetryKept {
  past: number
  current: number
  leased: number
}

/** What the kept keys matching a filter say, summed per (state, host, fingerprint) and per the other columns. */
interface Kept {
  keys: Key[]
  attempts: Map<number, number>
  byFinal: Map<string, number>
  retry: Map<string, RetryKept>
  pending: number
}

/** The kept count of every key matching `f` (host and fingerprint only), and how many deltas are pending. */
async function keys(q: Queryable, t: Tables, f: CompiledFilter, bucket: number): Promise<Kept> {
  const c = countTables(t.schema)
  const b = `$${f.params.length + 1}`
  const r = await run<{ state: EntryState; host: string; fingerprint: string; attempt: number; final: string; leased: boolean; due: string; n: string; pending: string }>(
    q,
    'stats',
    `SELECT state, host, fingerprint, attempt, final, leased, sign(due_bucket - ${b}::bigint) AS due, sum(n) AS n, (SELECT count(*) FROM ${c.deltas}) AS pending FROM (
       SELECT ${KEY_COLUMNS}, n FROM ${c.counts} UNION ALL SELECT ${KEY_COLUMNS}, n FROM ${c.deltas}) AS k
     WHERE ${f.where} GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(n) <> 0`,
    [...f.params, bucket],
  )
  // With no key left (every delta cancelled out), the count comes apart: deltas still pile up.
  const pending = r.rows[0]?.pending ?? (await run<{ n: string }>(q, 'stats', `SELECT count(*) AS n FROM ${c.deltas}`)).rows[0]!.n
  const out: Kept = { keys: [], attempts: new Map(), byFinal: new Map(), retry: new Map(), pending: Number(pending) }
  const byKey = new Map<string, Key>()
  const add = <K>(m: Map<K, number>, k: K, n: number) => m.set(k, (m.get(k) ?? 0) + n)
  for (const row of r.rows) {
    const n = Number(row.n)
    const id = JSON.stringify([row.state, row.host, row.fingerprint])
    let k = byKey.get(id)
    if (!k) byKey.set(id, (k = { state: row.state, host: row.host, fingerprint: row.fingerprint, n: 0 }))
    k.n += n
    if (row.state === 'permanent') add(out.byFinal, row.final, n)
    if (row.state !== 'retry') continue
    add(out.attempts, row.attempt, n)
    let h = out.retry.get(row.host)
    if (!h) out.retry.set(row.host, (h = { past: 0, current: 0, leased: 0 }))
    if (Number(row.due) < 0) h.past += n
    else if (Number(row.due) === 0) h.current += n
    if (row.leased) h.leased += n
  }
  out.keys = [...byKey.values()]
  return out
}

interface Probe {
  /** Earliest first failure (`coalesce(first_ts, ts)`). */
  first: number | null
  /** Latest `ts`. */
  newest: number | null
  /** The oldest entry by (ts, seq): its ts, seq and reason. */
  oldest: { ts: number; seq: number; reason: string | null } | null
}

/**
 * Per key, one probe of an index at one end for each part asked: `first` reads
 * entries_group_first, `newest` and `oldest` entries_group_ts.
 */
async function probe(q: Queryable, t: Tables, ks: Key[], want: { first?: boolean; newest?: boolean; oldest?: boolean }): Promise<Probe[]> {
  if (ks.length === 0) return []
  const key = `e.fingerprint = k.fp AND e.state = k.st AND e.host = k.h AND e.${OPEN_STATES}`
  const r = await run<{ first: string | null; newest: string | null; o_ts: string | null; o_seq: string | null; o_reason: string | null }>(
    q,
    'stats',
    `SELECT ${want.first ? `(SELECT coalesce(e.first_ts, e.ts) FROM ${t.entries} e WHERE ${key} ORDER BY coalesce(e.first_ts, e.ts) LIMIT 1)` : 'NULL'} AS first,
            ${want.newest ? `(SELECT e.ts FROM ${t.entries} e WHERE ${key} ORDER BY e.ts DESC LIMIT 1)` : 'NULL'} AS newest,
            o.ts AS o_ts, o.seq AS o_seq, o.reason AS o_reason
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(fp, st, h, i)
     LEFT JOIN LATERAL (SELECT e.ts, e.seq, e.reason FROM ${t.entries} e WHERE ${key} AND ${want.oldest ? 'true' : 'false'} ORDER BY e.ts, e.seq LIMIT 1) o ON true
     ORDER BY k.i`,
    [ks.map((k) => k.fingerprint), ks.map((k) => k.state), ks.map((k) => k.host)],
  )
  const num = (v: string | null) => (v === null ? null : Number(v))
  return r.rows.map((row) => ({
    first: num(row.first),
    newest: num(row.newest),
    oldest: row.o_ts === null ? null : { ts: Number(row.o_ts), seq: Number(row.o_seq), reason: row.o_reason },
  }))
}

const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b))
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b))

export async function keptStats(db: Db, t: Tables, filter: NormalFilter, scope: CentralScope, o: { top: number; fast: boolean }): Promise<Stats> {
  const f = compileFilter(filter, scope, undefined, 1)
  let pending = 0
  const stats = await db.tx(async (q): Promise<Stats> => {
    await run(q, 'stats', 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
    // Probes walk the indexes whatever the planner's statistics say.
    const at = Number(
      (await run<{ now: string }>(q, 'stats', `SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true), ${NO_JIT}, ${NOW_MS} AS now`)).rows[0]!.now,
    )
    const read = await keys(q, t, f, Math.floor(at / DUE_BUCKET_MS))
    pending = read.pending
    const open = read.keys.filter((k) => OPEN_KINDS.includes(k.state))
    const s = emptyStats(at, t.schema, o.fast)
    const backend = s.backend as CentralStatsBackend
    for (const k of read.keys) if (k.state === 'delivered' || k.state === 'purged') backend.settled[k.state] += k.n

    const hosts = new Map<string, HostStats & { open: number }>()
    const probes = await probe(q, t, open, { first: true, newest: !o.fast })
    for (const [i, k] of open.entries()) {
      const p = probes[i]!
      const ks = s[k.state as OpenKind]
      ks.count += k.n
      ks.oldestTs = minOf(ks.oldestTs, p.first)
      if (!o.fast) ks.newestTs = maxOf(ks.newestTs, p.newest)
      let h = hosts.get(k.host)
      if (!h) hosts.set(k.host, (h = { host: k.host, retry: 0, due: 0, permanent: 0, corrupt: 0, oldestTs: null, open: 0 }))
      h[k.state as OpenKind] += k.n
      h.open += k.n
      if (k.state === 'retry') h.oldestTs = minOf(h.oldestTs, p.first)
    }

    const due = await dueNow(q, t, f, at, read.retry, o.fast)
    s.retry.due = due.due
    s.retry.deferred = s.retry.count - due.reached
    s.retry.nextDueTs = due.next
    for (const [host, n] of due.byHost) hosts.get(host)!.due = n
    s.hosts = [...hosts.values()]
      .sort((a, b) => b.open - a.open || Buffer.compare(Buffer.from(a.host), Buffer.from(b.host)))
      .slice(0, 1000)
      .map(({ open: _, ...h }) => h)

    if (!o.fast) {
      for (const state of OPEN_KINDS as OpenKind[]) s[state].reasons = await reasons(q, t, open.filter((k) => k.state === state), o.top)
      // In the scan's order (attempt, then final in byte order): equal Stats compare equal.
      for (const [a, n] of [...read.attempts].sort((x, y) => x[0] - y[0])) if (n !== 0) s.retry.attempts[String(a)] = n
      for (const [k, n] of [...read.byFinal].sort((x, y) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0])))) if (n !== 0) s.permanent.byFinal[k] = n
    }
    return s
  })
  if (pending >= FOLD_AT) await compactCounts(db, t)
  return stats
}

/**
 * A kind's `top` reason groups, ranked as a local log ranks them (byRank: count, then oldest,
 * then fingerprint). The oldest entry is probed only for the groups that can make the cut:
 * those counting at least as many as the `top`-th largest.
 */
async function reasons(q: Queryable, t: Tables, ks: Key[], top: number): Promise<ReasonGroup[]> {
  const groups = new Map<string, { count: number; keys: Key[] }>()
  for (const k of ks) {
    const g = groups.get(k.fingerprint) ?? { count: 0, keys: [] }
    g.count += k.n
    g.keys.push(k)
    groups.set(k.fingerprint, g)
  }
  const counts = [...groups.values()].map((g) => g.count).sort((a, b) => b - a)
  const cut = counts[Math.min(top, counts.length) - 1] ?? Infinity
  const candidates = [...groups].filter(([, g]) => g.count >= cut)
  const probed = candidates.flatMap(([, g]) => g.keys)
  const ps = await probe(q, t, probed, { newest: true, oldest: true })
  const at = new Map(probed.map((k, i) => [k, ps[i]!]))
  const out: ReasonGroup[] = candidates.map(([fingerprint, g]) => {
    let oldest: Probe['oldest'] = null
    let newest: number | null = null
    for (const k of g.keys) {
      const p = at.get(k)!
      if (p.oldest && (!oldest || p.oldest.ts < oldest.ts || (p.oldest.ts === oldest.ts && p.oldest.seq < oldest.seq))) oldest = p.oldest
      newest = maxOf(newest, p.newest)
    }
    return { fingerprint, count: g.count, example: oldest?.reason ?? null, oldestTs: oldest?.ts ?? 0, newestTs: newest ?? 0, hosts: new Set(g.keys.map((k) => k.host)).size }
  })
  return out.sort(byRank).slice(0, top)
}

/**
 * Retry entries due by `at` (`reached`) and how many of them no worker holds (`due`), per
 * host: the kept due buckets before `at`'s, plus a range of entries_due inside `at`'s bucket
 * (only when the keys say it has rows), less the due rows under a live lease — found by a walk
 * of entries_due that stops once it has seen as many leased rows as the keys count (claims
 * take the oldest due first, so they lead the walk); none leased, no walk. Unless `fast`, the
 * next due time after `at` (one probe at the range's end).
 */
async function dueNow(
  q: Queryable,
  t: Tables,
  f: CompiledFilter,
  at: number,
  kept: Kept['retry'],
  fast: boolean,
): Promise<{ due: number; reached: number; next: number | null; byHost: Array<[string, number]> }> {
  if (kept.size === 0) return { due: 0, reached: 0, next: null, byHost: [] }
  const reached = new Map([...kept].map(([host, k]) => [host, k.past]))
  const due = new Map(reached)
  const a = `$${f.params.length + 1}`
  const b = `$${f.params.length + 2}`
  const sum = (pick: (k: RetryKept) => number) => [...kept.values()].reduce((x, k) => x + pick(k), 0)
  const perHost = async (sql: string, params: unknown[], into: Array<Map<string, number>>, sign: number) => {
    for (const row of (await run<{ host: string; n: string }>(q, 'stats', sql, [...f.params, ...params])).rows) {
      for (const m of into) m.set(row.host, (m.get(row.host) ?? 0) + sign * Number(row.n))
    }
  }
  if (sum((k) => k.current) > 0) {
    const start = Math.floor(at / DUE_BUCKET_MS) * DUE_BUCKET_MS
    await perHost(`SELECT host, count(*) AS n FROM ${t.entries} WHERE ${f.where} AND state = 'retry' AND due_ts >= ${b} AND due_ts <= ${a} GROUP BY host`, [at, start], [reached, due], 1)
  }
  const leased = sum((k) => k.leased)
  if (leased > 0) {
    await perHost(
      `SELECT host, count(*) AS n FROM (
         SELECT host, lease_until FROM ${t.entries} WHERE ${f.where} AND state = 'retry' AND due_ts <= ${a} AND lease_until IS NOT NULL ORDER BY due_ts LIMIT ${b}) AS l
       WHERE lease_until >= ${a} GROUP BY host`,
      [at, leased],
      [due],
      -1,
    )
  }
  const next = fast
    ? null
    : (await run<{ d: string }>(q, 'stats', `SELECT due_ts AS d FROM ${t.entries} WHERE ${f.where} AND state = 'retry' AND due_ts > ${a} ORDER BY due_ts LIMIT 1`, [...f.params, at]))
        .rows[0]?.d
  const total = (m: Map<string, number>) => [...m.values()].reduce((x, n) => x + n, 0)
  return {
    due: total(due),
    reached: total(reached),
    next: next === undefined || next === null ? null : Number(next),
    byHost: [...due],
  }
}
