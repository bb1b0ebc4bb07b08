/**
 * Batched, idempotent insertion of shipped rows: one `INSERT … SELECT FROM
 * json_to_recordset($3)` per batch (one round trip, one plan, parameters only), `ON CONFLICT
 * DO NOTHING` on the entry key so a re-shipped line is silently skipped. Returns how many
 * rows were new.
 *
 * Why one JSON document rather than a text array per column: pg builds array literals in
 * JavaScript, escaping every element (payloads are full of quotes) — measured as a quarter
 * of the shipper's CPU, plus the garbage. A JSON document is built with one native
 * JSON.stringify per string field, and each payload goes in as the JSON text it already is
 * (it parsed as part of its envelope), so it is neither re-encoded nor escaped.
 */
import { run, type Queryable } from './db.js'
import type { Row } from './rows.js'
import { NOW_MS, type Tables } from './schema.js'

export function insertSql(t: Tables): string {
  return `INSERT INTO ${t.entries}
      (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, id, ts, first_ts, due_ts,
       error_name, error_code, final, payload, raw, shipped_at, updated_at)
    SELECT u.k, $1, $2, u.src, u.off, u.st, u.att, u.rsn, u.fp, u.id, u.ts, u.fts, u.due, u.en, u.ec, u.fin, u.pl, u.raw,
           ${NOW_MS}, ${NOW_MS}
    FROM json_to_recordset($3::json)
      AS u(k uuid, src text, off bigint, st text, att int, rsn text, fp text, id text, ts bigint, fts bigint, due bigint,
           en text, ec text, fin text, pl jsonb, raw text)
    ON CONFLICT (entry_key) DO NOTHING`
}

const str = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s))
const num = (n: number | null): string => (n === null ? 'null' : String(n))

/** The batch as one JSON array; `payload` is embedded verbatim (valid JSON by construction, see Row). */
export function rowsJson(rows: Row[]): string {
  let out = '['
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    out +=
      `${i === 0 ? '' : ','}{"k":"${r.key}","src":${str(r.source)},"off":${r.offset},"st":"${r.state}","att":${r.attempt},` +
      `"rsn":${str(r.reason)},"fp":${str(r.fingerprint)},"id":${str(r.id)},"ts":${r.ts},"fts":${num(r.firstTs)},"due":${r.dueTs},` +
      `"en":${str(r.errorName)},"ec":${str(r.errorCode)},"fin":${str(r.final)},"pl":${r.payload ?? 'null'},"raw":${str(r.raw)}}`
  }
  return out + ']'
}

export async function insertRows(q: Queryable, t: Tables, host: string, log: string, rows: Row[]): Promise<number> {
  if (rows.length === 0) return 0
  const r = await run(q, `ship ${rows.length} entries`, insertSql(t), [host, log, rowsJson(rows)])
  return r.rowCount
}
