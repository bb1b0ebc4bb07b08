/**
 * `store.inspect(filter)`: entries in shipping order (or newest first), paged by sequence
 * number (keyset, not OFFSET) along the primary key, so memory stays one page whatever the
 * table size, a long walk never holds a transaction open, and a listing that stops early
 * reads only what it listed and passed over — from either end.
 */
import { run, type Db } from './db.js'
import { type CentralEntry, ENTRY_COLUMNS, toEntry } from './entry.js'
import type { CompiledFilter } from './filters.js'
import type { Tables } from './schema.js'

const PAGE = 500

export type InspectOrder = 'oldest' | 'newest'

/** `f` compiled with its first parameter at $3. */
export async function* inspectEntries(db: Db, t: Tables, f: CompiledFilter, order: InspectOrder = 'oldest'): AsyncGenerator<CentralEntry> {
  const newest = order === 'newest'
  // seq is a positive identity: 0 is before the first row, and no row reaches 2^63 - 1.
  let after: number | string = newest ? '9223372036854775807' : 0
  let left = f.limit ?? Infinity
  while (left > 0) {
    const n = Math.min(PAGE, left)
    const r = await run<Record<string, unknown>>(
      db,
      'inspect',
      `SELECT ${ENTRY_COLUMNS} FROM ${t.entries} WHERE seq ${newest ? '<' : '>'} $1 AND ${f.where} ORDER BY seq ${newest ? 'DESC' : ''} LIMIT $2`,
      [after, n, ...f.params],
    )
    for (const row of r.rows) yield toEntry(row)
    if (r.rows.length < n) return
    left -= r.rows.length
    after = Number(r.rows[r.rows.length - 1]!.seq)
  }
}
