/**
 * Batched, idempotent insertion of shipped rows: one `INSERT … SELECT FROM
 * json_to_recordset($3)` per batch (one round trip, one plan, parameters only), `ON CONFLICT
 * DO NOTHING` on the entry key so a re-shipped line is silently skipped. Returns how many
 * rows were new.
 *
 * A batch the server refuses for a value in it (SQLSTATE class 22, data exception, or 54,
 * program limit exceeded — `jsonbRefusal` in pg-text.ts keeps the known ones out; this is
 * the net for the rest) is split in halves until the refused rows stand alone; the rest goes
 * in. A refused row is tried once more with its payload as the whole line in `raw` (stored
 * faithfully when the payload was the trouble), else it goes in as a `corrupt` row with its
 * line and the server's message. Any other failure (connection, server shutting down) fails
 * the call: the file stays and is shipped again next time.
 *
 * Why one JSON document rather than a text array per column: pg builds array literals in
 * JavaScript, escaping every element (payloads are full of quotes) — measured as a quarter
 * of the shipper's CPU, plus the garbage. A JSON document is built with one native
 * JSON.stringify per string field, and each payload goes in as the JSON text it already is
 * (it parsed as part of its envelope), so it is neither re-encoded nor escaped.
 */
import { DeadLetterError } from '../base/errors.js'
import { run, type Queryable } from './db.js'
import { asRawLine, corruptTextRow, type Row } from './rows.js'
import type { Kind } from '../format/model.js'
import { NOW_MS, type Tables } from './schema.js'

export function insertSql(t: Tables): string {
  return `INSERT INTO ${t.entries}
      (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, id, ts, first_ts, due_ts,
       error_name, error_code, final, payload, raw, trace, first_reason, first_error_name, first_error_code, first_fingerprint,
       history, redrives, origin, stack, edit_of, shipped_at, updated_at)
    SELECT u.k, $1, $2, u.src, u.off, u.st, u.att, u.rsn, u.fp, u.id, u.ts, u.fts, u.due, u.en, u.ec, u.fin, u.pl, u.raw, u.tr,
           u.frs, u.fen, u.fec, u.ffp, u.hi, coalesce(u.rd, 0),
           -- An entry leaves its log here: unless it already came from elsewhere, its origin is this host and log.
           CASE WHEN u.st = 'corrupt' THEN NULL ELSE coalesce(u.org, jsonb_build_object('host', $1::text, 'log', $2::text)) END, u.stk, u.eo,
           ${NOW_MS}, ${NOW_MS}
    FROM json_to_recordset($3::json)
      AS u(k uuid, src text, off bigint, st text, att int, rsn text, fp text, id text, ts bigint, fts bigint, due bigint,
           en text, ec text, fin text, pl jsonb, raw text, tr jsonb, frs text, fen text, fec text, ffp text, hi jsonb, rd int, org jsonb, stk text, eo jsonb)
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
      `"en":${str(r.errorName)},"ec":${str(r.errorCode)},"fin":${str(r.final)},"pl":${r.payload ?? 'null'},"raw":${str(r.raw)},"tr":${r.trace ?? 'null'}` +
      (r.firstFingerprint === null && r.history === null && r.redrives === 0 && r.origin === null && r.stack === null && r.editOf === null ? '}' : lineageJson(r))
  }
  return out + ']'
}

/** The lineage part of a row's document (rows without lineage leave it out: the columns take their defaults). */
function lineageJson(r: Row): string {
  return `,"frs":${str(r.firstReason)},"fen":${str(r.firstErrorName)},"fec":${str(r.firstErrorCode)},"ffp":${str(r.firstFingerprint)},"hi":${r.history ?? 'null'},"rd":${r.redrives},"org":${r.origin ?? 'null'},"stk":${str(r.stack)},"eo":${r.editOf ?? 'null'}}`
}

/**
 * What a batch's document may hold, in row text (rowBytes): 32 MiB. A batch is one string in
 * V8 (at most 2^29 − 24 characters) and one parameter for PostgreSQL (at most 1 GB); capped by
 * rows alone, 2000 records of 16 MiB (the default maxRecordSize) would pass both, and every
 * ship of that file would fail. The estimate counts characters before JSON escaping; an
 * escape is at most 6 characters (`\u001f`) and a character at most 3 bytes of UTF-8, so
 * a batch stays below 200 MB on the wire whatever its text. A single row larger than the
 * cap goes alone.
 */
export const BATCH_BYTES = 32 * 1024 * 1024

/** The row's share of rowsJson, estimated: its text fields' lengths plus the fixed part (keys, numbers, key uuid). */
export function rowBytes(r: Row): number {
  const len = (x: string | null) => (x === null ? 0 : x.length)
  return 256 + r.source.length + len(r.reason) + r.fingerprint.length + len(r.id) + len(r.errorName) + len(r.errorCode) + len(r.final) + len(r.payload) + len(r.raw) + len(r.trace) +
    len(r.firstReason) + len(r.firstErrorName) + len(r.firstErrorCode) + len(r.firstFingerprint) + len(r.history) + len(r.origin) + len(r.stack) + len(r.editOf)
}

/** Insert `rows` (all read from one file) as they are; a failure names the file and the bytes. */
export async function insertRows(q: Queryable, t: Tables, host: string, log: string, rows: Row[]): Promise<number> {
  if (rows.length === 0) return 0
  const first = rows[0]!
  const last = rows[rows.length - 1]!
  const where = rows.length === 1 ? `the entry at byte ${first.offset} of ${first.source}` : `${rows.length} entries of ${first.source} (bytes ${first.offset}–${last.offset})`
  const r = await run(q, `ship ${where}`, insertSql(t), [host, log, rowsJson(rows)])
  return r.rowCount
}

export interface InsertOutcome {
  /** Rows new to the table. */
  inserted: number
  /** What each row the server refused was read as; each went in as a `corrupt` row instead. */
  refused: Kind[]
}

/** The server's message when it refused a value in the rows (SQLSTATE class 22 or 54); undefined for any other failure. */
function refusal(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause
  const code = cause?.code
  if (typeof code !== 'string' || !/^(22|54)[0-9A-Z]{3}$/.test(code)) return undefined
  return `${code}: ${typeof cause?.message === 'string' ? cause.message : 'refused'}`
}

/** Insert `rows`, isolating any the server refuses (see the top of this file). */
export async function insertIsolating(q: Queryable, t: Tables, host: string, log: string, rows: Row[]): Promise<InsertOutcome> {
  try {
    return { inserted: await insertRows(q, t, host, log, rows), refused: [] }
  } catch (err) {
    const why = refusal(err)
    if (why === undefined) throw err
    if (rows.length === 1) return insertRefused(q, t, host, log, rows[0]!, why)
    const mid = rows.length >>> 1
    const a = await insertIsolating(q, t, host, log, rows.slice(0, mid))
    const b = await insertIsolating(q, t, host, log, rows.slice(mid))
    return { inserted: a.inserted + b.inserted, refused: a.refused.concat(b.refused) }
  }
}

async function insertRefused(q: Queryable, t: Tables, host: string, log: string, row: Row, why: string): Promise<InsertOutcome> {
  if (row.payload !== null && row.state !== 'corrupt') {
    try {
      return { inserted: await insertRows(q, t, host, log, [asRawLine(row)]), refused: [] }
    } catch (err) {
      if (refusal(err) === undefined) throw err
    }
  }
  // Its own time when the column can hold it (a refused ts is often the trouble), else now.
  const ts = Number.isSafeInteger(row.ts) ? row.ts : Date.now()
  const corrupt = corruptTextRow(row.key, row.source, row.offset, row.line, `the database refused this entry (${why})`, ts)
  try {
    return { inserted: await insertRows(q, t, host, log, [corrupt]), refused: [row.state] }
  } catch (err) {
    if (refusal(err) === undefined) throw err
    throw new DeadLetterError(
      'DLQ_DB',
      `dlq: ship the entry at byte ${row.offset} of ${row.source}: the database refused it (${why}) and its corrupt record (${refusal(err)})`,
      { cause: err },
    )
  }
}
