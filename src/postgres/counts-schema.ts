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

export function countTables(schema: string): CountTables {
  return { counts: `"${schema}".counts`, deltas: `"${schema}".count_deltas` }
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
    `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $body$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         INSERT INTO ${c.deltas} (state, host, fingerprint, n)
           SELECT state, host, fingerprint, count(*) FROM new_rows GROUP BY 1, 2, 3;
       ELSIF TG_OP = 'DELETE' THEN
         INSERT INTO ${c.deltas} (state, host, fingerprint, n)
           SELECT state, host, fingerprint, -count(*) FROM old_rows GROUP BY 1, 2, 3;
       ELSE
         INSERT INTO ${c.deltas} (state, host, fingerprint, n)
           SELECT state, host, fingerprint, sum(d) FROM (
             SELECT state, host, fingerprint, -1 AS d FROM old_rows
             UNION ALL
             SELECT state, host, fingerprint, 1 FROM new_rows) AS x
           GROUP BY 1, 2, 3 HAVING sum(d) <> 0;
       END IF;
       RETURN NULL;
     END $body$`,
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
