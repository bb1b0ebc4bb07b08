/**
 * Claiming and settling entries for central replay. A claim is one statement: the due,
 * unleased retry rows, oldest due first, locked with `FOR UPDATE SKIP LOCKED` (so workers on
 * any number of hosts never wait on or take each other's rows) and stamped with a lease.
 * A worker that dies simply stops renewing: its rows become claimable when the lease ends.
 * Settling checks the lease is still ours, so a worker whose lease was lost (and whose rows
 * another worker took) cannot overwrite that worker's outcome.
 *
 * Every statement here runs with its plan pinned (see PIN_PLANS): the cost of a claim must
 * follow the batch, never the backlog, whatever the planner's statistics say.
 */
import { dbError, sqlStateOf } from './errors.js'
import { PIN_PLANS, type QueryResult, retryTransient, run, type Db, type Queryable } from './db.js'
import { ENTRY_COLUMNS } from './entry.js'
import { HISTORY_LIMIT } from '../format/lineage.js'
import { NOW_MS, type Tables, UNLEASED } from './schema.js'

/**
 * Right after a large ship the table has no (or stale) statistics until autovacuum analyzes
 * it, up to a minute later; the planner then believes few rows are due and picks a bitmap
 * scan of every retry row plus a sort: each claim and each settle read the whole backlog
 * (measured: 100k retry rows, 72 ms a claim, 5k entries/s). With sorts and bitmap scans off
 * for the transaction, the only plans left are the ones these statements are written for —
 * an ordered walk of `entries_due` that stops after `n` claimable rows, and primary-key
 * lookups — and they do not depend on statistics at all. Sequential scans go too: on a table
 * the planner believes small, it would rather read every row than probe the primary key
 * `n` times (seen for a settle of 100 on a table of 4,000 rows).
 *
 * JIT goes too: a disabled plan node costs 10^10, far above `jit_above_cost`, so any plan
 * that keeps one (a sort of zero rows under a constant-false filter, a subplan the planner
 * costs with one) was compiled by LLVM on every execution — measured: 830 ms of JIT for a
 * stats probe that runs in 10 ms. These statements are short; they never gain from it.
 *
 * A statement that is a transaction of its own (a claim, a renewal, a release, a settle
 * with no failures) runs on `db.pinned`: one round trip on a session that has the settings.
 * A transaction of several statements applies PIN_PLANS first (set_config(…, true): as
 * `SET LOCAL`, fine behind PgBouncer in transaction mode).
 */
export { PIN_PLANS }

/** One pinned statement (db.pinned), again when it failed for a transient reason. */
async function pinnedOne<R>(db: Db, action: string, text: string, params: unknown[]): Promise<QueryResult<R>> {
  try {
    return await retryTransient(() => db.pinned.query<R>(text, params))
  } catch (err) {
    throw dbError(action, err)
  }
}

/**
 * Run `fn` in one transaction with PIN_PLANS applied; again when it failed for a transient
 * reason (retryTransient: every transaction here is safe to run twice, its statements only
 * touch rows still leased to the worker, or claimable).
 */
export async function pinned<T>(db: Db, action: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
  try {
    return await retryTransient(() =>
      db.tx(async (q) => {
        await run(q, action, PIN_PLANS)
        return fn(q)
      }),
    )
  } catch (err) {
    throw dbError(action, err)
  }
}

export interface ClaimScope {
  host?: string
  log?: string
  /**
   * Claim only entries due before this server time (epoch ms) rather than by now: a run takes
   * what was due when it started, as a local run reads the log once. An entry it re-queues —
   * due at the earliest in the millisecond of the run's first claim, with no backoff — is the
   * next run's, not tried again and again within this one.
   */
  dueBy?: number
}

/**
 * The claim statement. The server's time is read once, in an InitPlan, so that the due bound
 * is an index condition (the walk of `entries_due` ends at the first row not yet due: an
 * idle run costs nothing however many rows are deferred) and leases and due times never
 * depend on a host's clock.
 *
 * `delivered`: the previous batch's deliveries, settled by the same statement (a
 * data-modifying CTE: one round trip, one commit and one run of the count trigger per batch
 * instead of two — at batch 1 the statement, not the row, is the cost). They are kept out of
 * the claim, so no row is changed twice by the statement, whatever their lease says.
 */
export function claimStatement(
  t: Tables, owner: string, n: number, leaseMs: number, scope: ClaimScope, delivered: number[] = [],
): { text: string; params: unknown[] } {
  const params: unknown[] = [owner, n, leaseMs]
  const due = scope.dueBy === undefined ? `due_ts <= (SELECT ${NOW_MS})` : `due_ts < $${params.push(scope.dueBy)}::bigint`
  const conds = [`state = 'retry'`, due, UNLEASED]
  if (scope.host !== undefined) {
    params.push(scope.host)
    conds.push(`host = $${params.length}`)
  }
  if (scope.log !== undefined) {
    params.push(scope.log)
    conds.push(`log = $${params.length}`)
  }
  let settle = ''
  if (delivered.length > 0) {
    params.push(delivered)
    const seqs = `$${params.length}::bigint[]`
    conds.push(`seq <> ALL(${seqs})`)
    settle = `WITH settled AS (${deliveredText(t, seqs, '$1')}) `
  }
  return {
    text: `${settle}UPDATE ${t.entries} SET lease_until = ${NOW_MS} + $3, lease_owner = $1
     WHERE seq IN (SELECT seq FROM ${t.entries} WHERE ${conds.join(' AND ')} ORDER BY due_ts LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING ${ENTRY_COLUMNS}, ${NOW_MS} AS server_now`,
    params,
  }
}

export interface Claimed {
  rows: Record<string, unknown>[]
  /** The server's clock at the claim (epoch ms). */
  serverNow: number
}

/** Claim up to `n` due entries, settling `delivered` (the previous batch's) in the same statement. */
export async function claim(db: Db, t: Tables, owner: string, n: number, leaseMs: number, scope: ClaimScope, delivered: number[] = []): Promise<Claimed> {
  const { text, params } = claimStatement(t, owner, n, leaseMs, scope, delivered)
  const r = await pinnedOne<Record<string, unknown>>(db, 'claim entries', text, params)
  return { rows: r.rows, serverNow: r.rows.length > 0 ? Number(r.rows[0]!.server_now) : 0 }
}

/**
 * A claimed row is still this worker's: its lease owner (unique per worker run) is ours. Only
 * a claim sets an owner, and only on a retry row; every statement that moves a row out of
 * 'retry' (settle, requeue, purge) clears it — so the owner alone says the row is a retry
 * row. Saying `state = 'retry'` too would be true and harmful: it lets the planner, when the
 * table has no statistics yet, walk the partial index entries_due (whose predicate it then
 * matches, and whose size it guesses at 0.5 % of the table) instead of probing the primary
 * key — measured: 99,500 index rows read and filtered to settle a batch of 500.
 */
const OURS = (param: string, alias = '') => `${alias}lease_owner = ${param}`

interface Statement {
  text: string
  params: unknown[]
}

function renewStatement(t: Tables, owner: string, seqs: number[], leaseMs: number): Statement {
  return {
    text: `UPDATE ${t.entries} SET lease_until = ${NOW_MS} + $3 WHERE seq = ANY($1::bigint[]) AND ${OURS('$2')} RETURNING seq`,
    params: [seqs, owner, leaseMs],
  }
}

function releaseStatement(t: Tables, owner: string, seqs: number[]): Statement {
  return {
    text: `UPDATE ${t.entries} SET lease_until = NULL, lease_owner = NULL WHERE seq = ANY($1::bigint[]) AND ${OURS('$2')}`,
    params: [seqs, owner],
  }
}

const deliveredText = (t: Tables, seqs: string, owner: string) =>
  `UPDATE ${t.entries} SET state = 'delivered', lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS}
         WHERE seq = ANY(${seqs}) AND ${OURS(owner)}`

function deliveredStatement(t: Tables, owner: string, seqs: number[]): Statement {
  return { text: deliveredText(t, '$1::bigint[]', '$2'), params: [seqs, owner] }
}

/** Every statement that changes a claimed batch by its seqs, as sent (for plan tests). */
export function settleStatements(t: Tables, owner: string, seqs: number[], failed: Failure[], leaseMs: number): Array<Statement & { name: string }> {
  return [
    { name: 'settle delivered', ...deliveredStatement(t, owner, seqs) },
    { name: 'settle failed', ...failedStatement(t, owner, failed) },
    { name: 'renew', ...renewStatement(t, owner, seqs, leaseMs) },
    { name: 'release', ...releaseStatement(t, owner, seqs) },
  ]
}

/** Extend the lease of `seqs`; returns those still ours (another worker may have claimed one after the lease ended). */
export async function renew(db: Db, t: Tables, owner: string, seqs: number[], leaseMs: number): Promise<Set<number>> {
  if (seqs.length === 0) return new Set()
  const { text, params } = renewStatement(t, owner, seqs, leaseMs)
  const r = await pinnedOne<{ seq: string }>(db, 'renew lease', text, params)
  return new Set(r.rows.map((row) => Number(row.seq)))
}

/** Give back claimed entries that were not started (abort): claimable again at once. */
export async function release(db: Db, t: Tables, owner: string, seqs: number[]): Promise<void> {
  if (seqs.length === 0) return
  const { text, params } = releaseStatement(t, owner, seqs)
  await pinnedOne(db, 'release entries', text, params)
}

export interface Failure {
  seq: number
  state: 'retry' | 'permanent'
  attempt: number
  reason: string | null
  fingerprint: string
  errorName: string | null
  errorCode: string | null
  final: string | null
  ts: number
  dueTs: number
  /** The handler ran and failed: the attempt before it joins the entry's history (false: moved before it ran). */
  tried: boolean
}

/**
 * SQLSTATE classes a statement fails with because of the values it writes, not because of the
 * database or the connection: 22 data exception, 23 integrity constraint violation (a CHECK
 * the operator added), 54 program limit exceeded (e.g. an index row too large).
 */
function isDataError(err: unknown): boolean {
  return /^(22|23|54)/.test(sqlStateOf(err) ?? '')
}

/**
 * The lineage of a failed attempt, as a local re-log writes it (afterAttempt in
 * src/format/lineage.ts): the first reason made explicit, the attempt that was the entry's
 * last (the row's values before this update) appended to the history, the oldest dropped
 * beyond HISTORY_LIMIT; the stack a shipped entry kept was the earlier failure's, so it goes.
 * An entry moved before its handler ran (`u.tried` false) keeps its lineage.
 */
const SET_FIRST = `u.tried AND e.first_fingerprint IS NULL`
const LAST_ATTEMPT = `jsonb_build_object('ts', e.ts, 'attempt', e.attempt, 'reason', e.reason) || jsonb_strip_nulls(jsonb_build_object('errorName', e.error_name, 'errorCode', e.error_code))`
const AFTER_ATTEMPT = `first_reason = CASE WHEN ${SET_FIRST} THEN e.reason ELSE e.first_reason END,
       first_error_name = CASE WHEN ${SET_FIRST} THEN e.error_name ELSE e.first_error_name END,
       first_error_code = CASE WHEN ${SET_FIRST} THEN e.error_code ELSE e.first_error_code END,
       first_fingerprint = CASE WHEN ${SET_FIRST} THEN e.fingerprint ELSE e.first_fingerprint END,
       history = CASE WHEN u.tried THEN (
         SELECT jsonb_agg(h.x ORDER BY h.i) FROM jsonb_array_elements(coalesce(e.history, '[]'::jsonb) || jsonb_build_array(${LAST_ATTEMPT})) WITH ORDINALITY AS h(x, i)
         WHERE h.i > jsonb_array_length(coalesce(e.history, '[]'::jsonb)) + 1 - ${HISTORY_LIMIT}) ELSE e.history END,
       stack = CASE WHEN u.tried THEN NULL ELSE e.stack END`

async function settleFailed(q: Queryable, t: Tables, owner: string, failed: Failure[]): Promise<void> {
  const { text, params } = failedStatement(t, owner, failed)
  await run(q, 'settle failed entries', text, params)
}

function failedStatement(t: Tables, owner: string, failed: Failure[]): Statement {
  const col = <K extends keyof Failure>(k: K) => failed.map((f) => f[k])
  return {
    text: `UPDATE ${t.entries} AS e SET state = u.st, attempt = u.att, reason = u.rsn, fingerprint = u.fp, error_name = u.en,
       error_code = u.ec, final = u.fin, first_ts = coalesce(e.first_ts, e.ts), ts = u.ts, due_ts = u.due,
       lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS}, ${AFTER_ATTEMPT}
     FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $12::boolean[])
       AS u(seq, st, att, rsn, fp, en, ec, fin, ts, due, tried)
     WHERE e.seq = u.seq AND ${OURS('$11', 'e.')}`,
    params: [col('seq'), col('state'), col('attempt'), col('reason'), col('fingerprint'), col('errorName'), col('errorCode'), col('final'), col('ts'), col('dueTs'), owner, col('tried')],
  }
}

/**
 * Settle a batch in one transaction. What a handler threw is data (its text is already made
 * storable, src/postgres/pg-text.ts), yet the database may still refuse a value — a CHECK an
 * operator added, a limit. Such a refusal must cost that entry, never the batch: rolled back,
 * the deliveries would be delivered again on every run and the failures would never count
 * their attempts. So the failures are written after a savepoint; when PostgreSQL refuses them
 * for their values, each is written alone, one it refuses is written with `unstorable(f)` in
 * its place, and one it refuses even so is left out (returned: its lease ends and it runs
 * again). Any other error (the connection, the server) rolls back the batch: the lease ends
 * and the batch is claimed again (at-least-once).
 */
export async function settle(
  db: Db, t: Tables, owner: string, delivered: number[], failed: Failure[], unstorable: (f: Failure, sqlState: string) => Failure,
): Promise<Failure[]> {
  if (delivered.length === 0 && failed.length === 0) return []
  if (failed.length === 0) {
    const { text, params } = deliveredStatement(t, owner, delivered)
    await pinnedOne(db, 'settle delivered entries', text, params)
    return []
  }
  return pinned(db, 'settle entries', async (q) => {
    const refused: Failure[] = []
    if (delivered.length > 0) {
      const { text, params } = deliveredStatement(t, owner, delivered)
      await run(q, 'settle delivered entries', text, params)
    }
    if (failed.length === 0) return refused
    await run(q, 'settle failed entries', 'SAVEPOINT failures')
    try {
      await settleFailed(q, t, owner, failed)
      return refused
    } catch (err) {
      if (!isDataError(err)) throw err
      await run(q, 'settle failed entries', 'ROLLBACK TO SAVEPOINT failures')
    }
    for (const f of failed) {
      await run(q, 'settle a failed entry', 'SAVEPOINT one')
      try {
        await settleFailed(q, t, owner, [f])
      } catch (err) {
        if (!isDataError(err)) throw err
        await run(q, 'settle a failed entry', 'ROLLBACK TO SAVEPOINT one')
        try {
          await settleFailed(q, t, owner, [unstorable(f, sqlStateOf(err) ?? 'unknown')])
        } catch (again) {
          if (!isDataError(again)) throw again
          await run(q, 'settle a failed entry', 'ROLLBACK TO SAVEPOINT one')
          refused.push(f)
        }
      }
      await run(q, 'settle a failed entry', 'RELEASE SAVEPOINT one')
    }
    return refused
  })
}
