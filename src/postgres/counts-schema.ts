/**
 * The kept counts' tables and triggers (migration 5). Every statement that adds, changes or
 * removes entries — ship, claim, settle, renew, release, requeue, purge, prune, and any SQL an
 * operator runs — appends what it changed per (state, host, fingerprint) to `count_deltas`,
 * from a statement-level trigger over its transition tables: in the same transaction, so a
 * rolled-back or crashed statement leaves no trace and a committed one is always counted.
 * Appending (rather than adding into one row per key) takes no lock another writer waits
 * on: sixteen shippers and eight workers on one fingerprint never queue or deadlock on a
 * counter row. `compactCounts` (kept-counts.ts) folds the deltas into `counts` now and then.
 *
 * Kept apart from schema.ts and kept-counts.ts so that both can use it without a cycle.
 */

export interface CountTables {
  /** Quoted, schema-qualified names (validated identifiers, safe to splice). */
  counts: string
  deltas: string
}

/** The advisory lock one folder of the deltas holds (kept-counts.ts compactCounts). */
export const foldLock = (schema: string) => `dletter-counts:${schema}`

export function countTables(schema: string): CountTables {
  return { counts: `"${schema}".counts`, deltas: `"${schema}".count_deltas` }
}

/**
 * Width of a due-time bucket (ms). A retry row is counted under `due_ts / DUE_BUCKET_MS`
 * (integer division), so "due by `at`" is the sum of the buckets before `at`'s plus a range
 * count of `entries_due` inside `at`'s own bucket: at most ten minutes of due times, whatever
 * the backlog. Wider buckets mean fewer kept keys and a longer range; epoch-ms `at` is always
 * past bucket 0, where negative due times land (division truncates towards zero).
 */
export const DUE_BUCKET_MS = 600_000

/**
 * The key every entry is counted under since migration 7, as SQL over a row source: besides
 * (state, host, fingerprint), a retry row's attempt, whether it is leased and its due bucket,
 * and a permanent row's final — so attempts, byFinal and due come from the kept counts too.
 * The columns other kinds do not report are constants (0, '', false), so they add no keys.
 */
const KEY = `state, host, fingerprint,
  CASE WHEN state = 'retry' THEN attempt ELSE 0 END AS attempt,
  CASE WHEN state = 'permanent' THEN coalesce(final, 'unknown') ELSE '' END AS final,
  (state = 'retry' AND lease_until IS NOT NULL) AS leased,
  CASE WHEN state = 'retry' THEN due_ts / ${DUE_BUCKET_MS} ELSE 0 END AS due_bucket`
export const KEY_COLUMNS = 'state, host, fingerprint, attempt, final, leased, due_bucket'

function countFunction(schema: string, c: CountTables, key: string, cols: string): string {
  const by = cols.split(',').map((_, i) => i + 1).join(', ')
  return `CREATE OR REPLACE FUNCTION "${schema}".count_entries() RETURNS trigger LANGUAGE plpgsql AS $body$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         INSERT INTO ${c.deltas} (${cols}, n)
           SELECT ${cols}, count(*) FROM (SELECT ${key} FROM new_rows) AS x GROUP BY ${by};
       ELSIF TG_OP = 'DELETE' THEN
         INSERT INTO ${c.deltas} (${cols}, n)
           SELECT ${cols}, -count(*) FROM (SELECT ${key} FROM old_rows) AS x GROUP BY ${by};
       ELSE
         INSERT INTO ${c.deltas} (${cols}, n)
           SELECT ${cols}, sum(d) FROM (
             SELECT ${key}, -1 AS d FROM old_rows
             UNION ALL
             SELECT ${key}, 1 FROM new_rows) AS x
           GROUP BY ${by} HAVING sum(d) <> 0;
       END IF;
       RETURN NULL;
     END $body$`
}

/**
 * Migration 7: the wider key (KEY). The function is replaced in place (the triggers stay);
 * the counts are recounted from the rows while writers are held off (the lock waits for
 * those running to commit, so every row is counted once, under the new key) and folders are
 * (their advisory lock).
 */
/**
 * The states stats probes per key (open entries). The group indexes cover only these since
 * migration 7: settling an entry (to delivered) or purging it adds no entry to them — two
 * fewer index entries, ~400 B less WAL per drained entry. A statement that wants them says
 * `state IN (…)` with these literals, so the planner can prove the index's predicate.
 */
export const OPEN_STATES = `state IN ('retry', 'permanent', 'corrupt')`

export function countsKeyMigration(t: { schema: string; entries: string }): string[] {
  const c = countTables(t.schema)
  const s = `"${t.schema}"`
  const add = `ADD COLUMN attempt integer NOT NULL DEFAULT 0, ADD COLUMN final text NOT NULL DEFAULT '',
     ADD COLUMN leased boolean NOT NULL DEFAULT false, ADD COLUMN due_bucket bigint NOT NULL DEFAULT 0`
  return [
    `LOCK TABLE ${t.entries} IN SHARE ROW EXCLUSIVE MODE`,
    `SELECT pg_advisory_xact_lock(hashtext('${foldLock(t.schema)}'))`,
    `ALTER TABLE ${c.counts} ${add}`,
    `ALTER TABLE ${c.deltas} ${add}`,
    `ALTER TABLE ${c.counts} DROP CONSTRAINT counts_pkey, ADD PRIMARY KEY (${KEY_COLUMNS})`,
    countFunction(t.schema, c, KEY, KEY_COLUMNS),
    `DELETE FROM ${c.deltas}`,
    `DELETE FROM ${c.counts}`,
    `INSERT INTO ${c.counts} (${KEY_COLUMNS}, n) SELECT ${KEY_COLUMNS}, count(*) FROM (SELECT ${KEY} FROM ${t.entries}) AS x GROUP BY 1, 2, 3, 4, 5, 6, 7`,
    `DROP INDEX ${s}.entries_group_ts, ${s}.entries_group_first`,
    `CREATE INDEX entries_group_ts ON ${t.entries} (fingerprint, state, host, ts) WHERE ${OPEN_STATES}`,
    `CREATE INDEX entries_group_first ON ${t.entries} (fingerprint, state, host, (coalesce(first_ts, ts))) WHERE ${OPEN_STATES}`,
  ]
}

/**
 * An UPDATE's old and new rows cancel out per key when it changed none of state, host or
 * fingerprint (a claim, a renewal, a release): nothing is appended. A key the statement moved
 * rows out of gets a negative delta.
 */
export function countsMigration(t: { schema: string; entries: string }): string[] {
  const c = countTables(t.schema)
  const fn = `"${t.schema}".count_entries`
  return [
    `CREATE TABLE ${c.counts} (
      state text NOT NULL, host text NOT NULL, fingerprint text NOT NULL, n bigint NOT NULL,
      PRIMARY KEY (state, host, fingerprint))`,
    `CREATE TABLE ${c.deltas} (state text NOT NULL, host text NOT NULL, fingerprint text NOT NULL, n bigint NOT NULL)`,
    countFunction(t.schema, c, 'state, host, fingerprint', 'state, host, fingerprint'),
    // A trigger with transition tables may have one event only.
    `CREATE TRIGGER entries_count_insert AFTER INSERT ON ${t.entries} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`,
    `CREATE TRIGGER entries_count_update AFTER UPDATE ON ${t.entries} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`,
    `CREATE TRIGGER entries_count_delete AFTER DELETE ON ${t.entries} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`,
    // After the triggers (CREATE TRIGGER holds off every writer until this commits): the rows
    // already there, counted once.
    `INSERT INTO ${c.counts} SELECT state, host, fingerprint, count(*) FROM ${t.entries} GROUP BY 1, 2, 3`,
    // What stats reads per group: the oldest and newest entry of each (fingerprint, state,
    // host) is one probe at either end. It leads with the columns of entries_fingerprint,
    // which it replaces.
    `CREATE INDEX entries_group_ts ON ${t.entries} (fingerprint, state, host, ts)`,
    `DROP INDEX "${t.schema}".entries_fingerprint`,
    // A kind's and a host's oldestTs is the earliest first failure, not the earliest ts.
    `CREATE INDEX entries_group_first ON ${t.entries} (fingerprint, state, host, (coalesce(first_ts, ts)))`,
  ]
}
