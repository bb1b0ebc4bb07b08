/**
 * The central schema and its migrations. Every connect() runs `migrate()`: under a
 * transaction-scoped advisory lock (many hosts may start at once) it applies, in order,
 * each migration newer than the highest recorded in `<schema>.migrations`, each in the same
 * transaction as its record. Migrations only ever add; a database migrated by a newer
 * version than this one is refused rather than misread.
 */
import { DeadLetterError } from '../base/errors.js'
import { countsKeyMigration, countsMigration } from './counts-schema.js'
import { type Db, run } from './db.js'

export interface Tables {
  schema: string
  /** Quoted, schema-qualified names, safe to splice into SQL (validated identifiers). */
  entries: string
  migrations: string
  /** The audit trail of requeues, repairs and purges (migration 4). */
  audit: string
}

export function tablesFor(schema: string): Tables {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: option \`schema\` must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got ${JSON.stringify(schema)}`)
  }
  return { schema, entries: `"${schema}".entries`, migrations: `"${schema}".migrations`, audit: `"${schema}".audit` }
}

/** Server time in epoch ms: leases and due times never depend on a host's clock. */
export const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`

/**
 * Turns JIT off for the rest of the transaction (a select-list item). Statements that run with
 * plan nodes disabled (PIN_PLANS in claim.ts, the stats probes) keep their plans' costs above
 * `jit_above_cost` and would otherwise be compiled by LLVM on every execution.
 */
export const NO_JIT = `set_config('jit', 'off', true)`

/**
 * A row no replay worker holds: never leased, or its lease has ended (the server's time, read
 * once per statement). Claims take only such rows, and so do requeue and purge: a lease is a
 * promise that nobody else runs, changes or hands out the entry until it ends.
 */
export const UNLEASED = `(lease_until IS NULL OR lease_until < (SELECT ${NOW_MS}))`

type Migration = (t: Tables) => string[]

export const MIGRATIONS: Migration[] = [
  // 1: entries, keyed for idempotent shipping, indexed for claiming, grouping and retention.
  // Free space in every page lets a claim (which changes only unindexed lease columns) be a
  // HOT update: no new index entries for the busiest write of central replay.
  (t) => [
    `CREATE TABLE ${t.entries} (
      seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      entry_key    uuid   NOT NULL,
      host         text   NOT NULL,
      log          text   NOT NULL,
      source       text   NOT NULL,
      byte_offset  bigint NOT NULL,
      state        text   NOT NULL CHECK (state IN ('retry', 'permanent', 'corrupt', 'delivered', 'purged')),
      attempt      integer NOT NULL,
      reason       text,
      fingerprint  text   NOT NULL,
      id           text,
      ts           bigint NOT NULL,
      first_ts     bigint,
      due_ts       bigint NOT NULL DEFAULT 0,
      error_name   text,
      error_code   text,
      final        text,
      payload      jsonb,
      raw          text,
      shipped_at   bigint NOT NULL,
      updated_at   bigint NOT NULL,
      lease_until  bigint,
      lease_owner  text
    ) WITH (fillfactor = 70)`,
    `CREATE UNIQUE INDEX entries_key ON ${t.entries} (entry_key)`,
    `CREATE INDEX entries_due ON ${t.entries} (due_ts) WHERE state = 'retry'`,
    `CREATE INDEX entries_fingerprint ON ${t.entries} (fingerprint, state)`,
    `CREATE INDEX entries_ts ON ${t.entries} (ts)`,
    `CREATE INDEX entries_done ON ${t.entries} (updated_at) WHERE state IN ('delivered', 'purged')`,
  ],
  // 2: the trace context log() captured ({ tp, tpState?, baggage? }, src/base/trace-context.ts).
  // A nullable column without a default: added without rewriting the table.
  (t) => [`ALTER TABLE ${t.entries} ADD COLUMN trace jsonb`],
  // 3: lineage (src/format/lineage.ts): the first reason (NULL: the current reason is the
  // first; `first_fingerprint` groups stats by it), the bounded history of earlier attempts,
  // the redrive count the loop guard reads, and where the entry was written ({ host, log }).
  // Nullable columns and a constant default: added without rewriting the table.
  (t) => [
    `ALTER TABLE ${t.entries} ADD COLUMN first_reason text, ADD COLUMN first_error_name text, ADD COLUMN first_error_code text,
       ADD COLUMN first_fingerprint text, ADD COLUMN history jsonb, ADD COLUMN redrives integer NOT NULL DEFAULT 0, ADD COLUMN origin jsonb`,
  ],
  // 4: repair before redrive (src/postgres/audit.ts): a repaired row's original ({ id, location }),
  // and the append-only audit trail of requeues, repairs and purges — who, when, why, the
  // filter, the transform and, per entry, where it was, the SHA-256 of its payload's text
  // (jsonb's) before and after, and the change as an RFC 6902 JSON Patch.
  (t) => [
    `ALTER TABLE ${t.entries} ADD COLUMN edit_of jsonb`,
    `CREATE TABLE ${t.audit} (
      seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at            bigint NOT NULL,
      run           uuid   NOT NULL,
      op            text   NOT NULL CHECK (op IN ('requeue', 'purge')),
      actor         text   NOT NULL,
      why           text,
      filter        text   NOT NULL,
      transform     jsonb,
      entry_seq     bigint NOT NULL,
      entry_key     uuid   NOT NULL,
      id            text,
      location      jsonb  NOT NULL,
      before_sha256 text   NOT NULL,
      after_sha256  text,
      patch         jsonb,
      undo          jsonb,
      new_seq       bigint
    )`,
    `CREATE INDEX audit_entry ON ${t.audit} (entry_seq)`,
    `CREATE INDEX audit_run ON ${t.audit} (run)`,
  ],
  // 5: counts kept by triggers (counts-schema.ts): stats and /metrics cost groups and hosts, not rows.
  countsMigration,
  // 6: lineage stack: the latest failure's stack, opt-in and capped (`keepStack`, src/format/lineage.ts).
  // A nullable column without a default: added without rewriting the table.
  (t) => [`ALTER TABLE ${t.entries} ADD COLUMN stack text`],
  // 7: the kept counts' key adds a retry row's attempt, lease and due time (in ten-minute
  // buckets) and a permanent row's final: due, attempts and byFinal are read, not scanned. The
  // group indexes keep open entries only (OPEN_STATES): settling one no longer adds to them.
  countsKeyMigration,
  // 8: half of each new page free. A claim changes only the lease columns, so it can be a HOT
  // update (no index entries, a few dozen bytes of WAL) — but only when the new row version
  // fits on its page, and a claim takes every row of a page at once (they are shipped, and
  // due, together). At 70 % only about a third fitted (measured: 35k of 100k claims HOT,
  // 1,380 B of WAL per drained entry); with as much free as used, all of them do (≈ 900 B,
  // what a plain UPDATE-based queue writes). A shipped backlog takes ~1.4× the heap at rest;
  // a drained table ends no larger. Applies to pages written from now on; no rewrite.
  (t) => [`ALTER TABLE ${t.entries} SET (fillfactor = 50)`],
]

export async function migrate(db: Db, t: Tables): Promise<number> {
  return db.tx(async (q) => {
    await run(q, 'migrate', `SELECT pg_advisory_xact_lock(hashtext($1))`, [`dletter-migrate:${t.schema}`])
    await run(q, 'migrate', `CREATE SCHEMA IF NOT EXISTS "${t.schema}"`)
    await run(
      q,
      'migrate',
      `CREATE TABLE IF NOT EXISTS ${t.migrations} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    )
    const r = await run<{ v: number | null }>(q, 'migrate', `SELECT max(version) AS v FROM ${t.migrations}`)
    const current = Number(r.rows[0]?.v ?? 0)
    if (current > MIGRATIONS.length) {
      throw new DeadLetterError(
        'DLQ_DB',
        `dlq: schema "${t.schema}" is at version ${current}, newer than this dletter knows (${MIGRATIONS.length}); upgrade dletter`,
      )
    }
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      for (const stmt of MIGRATIONS[v - 1]!(t)) await run(q, `migrate to version ${v}`, stmt)
      await run(q, 'migrate', `INSERT INTO ${t.migrations} (version) VALUES ($1)`, [v])
    }
    return MIGRATIONS.length
  })
}
