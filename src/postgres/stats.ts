/**
 * `store.stats(options)`: the `Stats` a local log's `stats()` returns — counts, due and
 * deferred, attempts, finals and the top reasons per kind — over the whole fleet, plus the same
 * counts per host. Grouping reads the stored, indexed fingerprint column; nothing is normalised
 * at query time. Times are the database server's.
 */
import type { CentralStatsBackend, HostStats, KindStats, Stats } from '../format/model.js'
import { run, type Db } from './db.js'
import type { CompiledFilter } from './filters.js'
import { NOW_MS, type Tables } from './schema.js'

const n = (v: unknown) => Number(v ?? 0)
const nOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v))
const OPEN = `state IN ('retry', 'permanent', 'corrupt')`

/** `f` compiled without states, its first parameter at $1. */
export async function centralStats(db: Db, t: Tables, f: CompiledFilter, o: { top: number; fast: boolean; groupBy: 'first' | 'last' }): Promise<Stats> {
  // By first reason: a row without one of its own (first_fingerprint NULL) failed first with its current one.
  const [key, example] = o.groupBy === 'first' ? ['coalesce(first_fingerprint, fingerprint)', 'CASE WHEN first_fingerprint IS NULL THEN reason ELSE first_reason END'] : ['fingerprint', 'reason']
  const at = n((await run<{ now: string }>(db, 'stats', `SELECT ${NOW_MS} AS now`)).rows[0]!.now)
  const p = (k: number) => `$${f.params.length + k}`
  const q = <R>(sql: string, extra: unknown[] = []) => run<R & Record<string, unknown>>(db, 'stats', sql, [...f.params, ...extra]).then((r) => r.rows)
  const due = `state = 'retry' AND due_ts <= ${p(1)} AND (lease_until IS NULL OR lease_until < ${p(1)})`
  const [byState, hosts, attempts, finals, reasons] = await Promise.all([
    q(
      `SELECT state, count(*) AS c, min(coalesce(first_ts, ts)) AS oldest, max(ts) AS newest,
              count(*) FILTER (WHERE ${due}) AS due, count(*) FILTER (WHERE state = 'retry' AND due_ts > ${p(1)}) AS deferred,
              min(due_ts) FILTER (WHERE state = 'retry' AND due_ts > ${p(1)}) AS next_due
       FROM ${t.entries} WHERE ${f.where} GROUP BY state`,
      [at],
    ),
    q(
      `SELECT host, count(*) FILTER (WHERE state = 'retry') AS retry, count(*) FILTER (WHERE ${due}) AS due,
              count(*) FILTER (WHERE state = 'permanent') AS permanent, count(*) FILTER (WHERE state = 'corrupt') AS corrupt,
              min(coalesce(first_ts, ts)) FILTER (WHERE state = 'retry') AS oldest
       FROM ${t.entries} WHERE ${f.where} AND ${OPEN} GROUP BY host ORDER BY count(*) DESC, host COLLATE "C" LIMIT 1000`,
      [at],
    ),
    o.fast ? [] : q(`SELECT attempt, count(*) AS c FROM ${t.entries} WHERE ${f.where} AND state = 'retry' GROUP BY attempt ORDER BY attempt`),
    o.fast ? [] : q(`SELECT coalesce(final, 'unknown') AS final, count(*) AS c FROM ${t.entries} WHERE ${f.where} AND state = 'permanent' GROUP BY 1 ORDER BY 1`),
    o.fast
      ? []
      : q(
          // Ordered as a local log orders its groups: by count, then oldest first, then fingerprint (byte order).
          `SELECT * FROM (
             SELECT state, ${key} AS fingerprint, count(*) AS c, count(DISTINCT host) AS hosts, (array_agg(${example} ORDER BY ts, seq))[1] AS example, min(ts) AS oldest, max(ts) AS newest,
                    row_number() OVER (PARTITION BY state ORDER BY count(*) DESC, min(ts), ${key} COLLATE "C") AS rank
             FROM ${t.entries} WHERE ${f.where} AND ${OPEN} GROUP BY state, ${key}) g
           WHERE rank <= ${p(1)} ORDER BY state, rank`,
          [o.top],
        ),
  ])
  const s = emptyStats(at, t.schema, o.fast)
  const backend = s.backend as CentralStatsBackend
  s.hosts = hosts.map((r): HostStats => ({ host: r.host as string, retry: n(r.retry), due: n(r.due), permanent: n(r.permanent), corrupt: n(r.corrupt), oldestTs: nOrNull(r.oldest) }))
  for (const r of byState) {
    const state = r.state as string
    if (state === 'delivered' || state === 'purged') {
      backend.settled[state] = n(r.c)
      continue
    }
    const k = s[state as 'retry' | 'permanent' | 'corrupt']
    k.count = n(r.c)
    k.oldestTs = nOrNull(r.oldest)
    if (!o.fast) k.newestTs = nOrNull(r.newest)
    if (state === 'retry') {
      Object.assign(s.retry, { due: n(r.due), deferred: n(r.deferred) })
      if (!o.fast) s.retry.nextDueTs = nOrNull(r.next_due)
    }
  }
  for (const r of attempts) s.retry.attempts[String(r.attempt)] = n(r.c)
  for (const r of finals) s.permanent.byFinal[r.final as string] = n(r.c)
  for (const r of reasons) {
    s[r.state as 'retry' | 'permanent' | 'corrupt'].reasons.push({
      fingerprint: r.fingerprint as string,
      count: n(r.c),
      example: (r.example as string | null) ?? null,
      oldestTs: n(r.oldest),
      newestTs: n(r.newest),
      hosts: n(r.hosts),
    })
  }
  return s
}

/** The central `Stats` before anything is counted: the scan and the kept counts fill the same shape. */
export function emptyStats(at: number, schema: string, fast: boolean): Stats {
  const kind = (): KindStats => ({ count: 0, oldestTs: null, newestTs: null, reasons: [] })
  const backend: CentralStatsBackend = { type: 'postgres', schema, settled: { delivered: 0, purged: 0 } }
  return {
    at,
    retry: { ...kind(), due: 0, deferred: 0, nextDueTs: null, attempts: {} },
    permanent: { ...kind(), byFinal: {} },
    corrupt: kind(),
    exact: fast ? { due: true, oldestTs: true } : null,
    hosts: [],
    warnings: [],
    backend,
  }
}
