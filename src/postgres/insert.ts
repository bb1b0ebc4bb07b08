/**
 * Batched, idempotent insertion of shipped rows: one `INSERT … SELECT FROM unnest(arrays)`
 * per batch (one round trip, one plan, parameters only), `ON CONFLICT DO NOTHING` on the
 * entry key so a re-shipped line is silently skipped. Returns how many rows were new.
 */
import { run, type Queryable } from './db.js'
import type { Row } from './rows.js'
import { NOW_MS, type Tables } from './schema.js'

export function insertSql(t: Tables): string {
  return `INSERT INTO ${t.entries}
      (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, id, ts, first_ts, due_ts,
       error_name, error_code, final, payload, raw, shipped_at, updated_at)
    SELECT u.k, $1, $2, u.src, u.off, u.st, u.att, u.rsn, u.fp, u.id, u.ts, u.fts, u.due, u.en, u.ec, u.fin, u.pl::jsonb, u.raw,
           ${NOW_MS}, ${NOW_MS}
    FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[],
                $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])
      AS u(k, src, off, st, att, rsn, fp, id, ts, fts, due, en, ec, fin, pl, raw)
    ON CONFLICT (entry_key) DO NOTHING`
}

export async function insertRows(q: Queryable, t: Tables, host: string, log: string, rows: Row[]): Promise<number> {
  if (rows.length === 0) return 0
  const col = <K extends keyof Row>(k: K) => rows.map((r) => r[k])
  const r = await run(q, `ship ${rows.length} entries`, insertSql(t), [
    host,
    log,
    col('key'),
    col('source'),
    col('offset'),
    col('state'),
    col('attempt'),
    col('reason'),
    col('fingerprint'),
    col('id'),
    col('ts'),
    col('firstTs'),
    col('dueTs'),
    col('errorName'),
    col('errorCode'),
    col('final'),
    col('payload'),
    col('raw'),
  ])
  return r.rowCount
}
