/**
 * `store.failureSeries(options)`: failures over time for the central store, the shape and rules
 * of src/format/series.ts. One range query on `entries_ts` (ts) over the open rows: grouped by
 * bucket and stored fingerprint, ranked, and cut to the top groups plus the rest in SQL, so
 * what comes back is at most buckets × (top + 1) rows whatever the number of entries or groups.
 * Buckets are UTC (epoch milliseconds divided by the bucket length: no time zone at query time).
 */
import { type Cells, type FailureSeries, type ResolvedSeries, addCell, assembleSeries } from '../format/series.js'
import { OTHER_REASONS } from '../format/reasons.js'
import { run, type Db } from './db.js'
import type { Tables } from './schema.js'

/** Hosts given their own totals with `byHost` (the overview's sparklines). */
const MAX_HOSTS = 50

export async function centralFailureSeries(db: Db, t: Tables, r: ResolvedSeries): Promise<FailureSeries> {
  const params: unknown[] = [r.start, r.end, r.kinds, r.bucketMs]
  const hostCond = r.host === undefined ? '' : ` AND host = $${params.push(r.host)}`
  const where = `ts >= $1 AND ts < $2 AND state = ANY($3::text[])${hostCond}`
  const top = params.push(r.top)
  const rows = (
    await run<{ b: string; fp: string | null; c: string }>(
      db,
      'failureSeries',
      `WITH c AS (SELECT (ts - $1) / $4 AS b, fingerprint AS fp, count(*) AS c FROM ${t.entries} WHERE ${where} GROUP BY 1, 2),
            r AS (SELECT fp, row_number() OVER (ORDER BY sum(c) DESC, fp COLLATE "C") AS rank FROM c GROUP BY fp)
       SELECT c.b, CASE WHEN r.rank <= $${top} THEN c.fp END AS fp, sum(c.c) AS c FROM c JOIN r USING (fp) GROUP BY 1, 2`,
      params,
    )
  ).rows
  const cells: Cells = new Map()
  for (const row of rows) addCell(cells, Number(row.b), row.fp ?? OTHER_REASONS, Number(row.c))
  const s = assembleSeries(r, cells)
  if (r.byHost) {
    const hp = params.slice(0, top - 1)
    const hosts = (
      await run<{ host: string; b: string; c: string }>(
        db,
        'failureSeries',
        `WITH h AS (SELECT host, (ts - $1) / $4 AS b, count(*) AS c FROM ${t.entries} WHERE ${where} GROUP BY 1, 2),
              busiest AS (SELECT host FROM h GROUP BY host ORDER BY sum(c) DESC, host COLLATE "C" LIMIT ${MAX_HOSTS})
         SELECT h.host, h.b, h.c FROM h JOIN busiest USING (host)`,
        hp,
      )
    ).rows
    const byHost = new Map<string, { host: string; total: number; counts: number[] }>()
    for (const row of hosts) {
      let h = byHost.get(row.host)
      if (!h) byHost.set(row.host, (h = { host: row.host, total: 0, counts: new Array<number>(r.n).fill(0) }))
      const b = Number(row.b)
      if (b < 0 || b >= r.n) continue
      h.counts[b]! += Number(row.c)
      h.total += Number(row.c)
    }
    s.hosts = [...byHost.values()].sort((a, b) => b.total - a.total || (a.host < b.host ? -1 : 1))
  }
  return s
}
