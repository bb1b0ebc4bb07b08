/**
 * `store.inspect(filter)`: entries in shipping order, paged by sequence number (keyset, not
 * OFFSET), so memory stays one page whatever the table size and a long walk never holds a
 * transaction open.
 */
import { run, type Db } from './db.js'
import { type CentralEntry, ENTRY_COLUMNS, toEntry } from './entry.js'
import type { CompiledFilter } from './filters.js'
import type { Tables } from './schema.js'

const PAGE = 500

/** `f` compiled with its first parameter at $3. */
export async function* inspectEntries(db: Db, t: Tables, f: CompiledFilter): AsyncGenerator<CentralEntry> {
  let after = 0
  let left = f.limit ?? Infinity
  while (left > 0) {
    const n = Math.min(PAGE, left)
    const r = await run<Record<string, unknown>>(
      db,
      'inspect',
      `SELECT ${ENTRY_COLUMNS} FROM ${t.entries} WHERE seq > $1 AND ${f.where} ORDER BY seq LIMIT $2`,
      [after, n, ...f.params],
    )
    for (const row of r.rows) yield toEntry(row)
    if (r.rows.length < n) return
    left -= r.rows.length
    after = Number(r.rows[r.rows.length - 1]!.seq)
  }
}
