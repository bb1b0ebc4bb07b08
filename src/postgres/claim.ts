/**
 * Claiming and settling entries for central replay. A claim is one statement: the due,
 * unleased retry rows, oldest due first, locked with `FOR UPDATE SKIP LOCKED` (so workers on
 * any number of hosts never wait on or take each other's rows) and stamped with a lease.
 * A worker that dies simply stops renewing: its rows become claimable when the lease ends.
 * Settling checks the lease is still ours, so a worker whose lease was lost (and whose rows
 * another worker took) cannot overwrite that worker's outcome.
 */
import { run, type Db } from './db.js'
import { ENTRY_COLUMNS } from './entry.js'
import { NOW_MS, type Tables } from './schema.js'

export interface Claimed {
  rows: Record<string, unknown>[]
  /** The server's clock at the claim (epoch ms). */
  serverNow: number
}

export async function claim(db: Db, t: Tables, owner: string, n: number, leaseMs: number, scope: { host?: string; log?: string }): Promise<Claimed> {
  const conds = [`state = 'retry'`, `due_ts <= ${NOW_MS}`, `(lease_until IS NULL OR lease_until < ${NOW_MS})`]
  const params: unknown[] = [owner, n, leaseMs]
  if (scope.host !== undefined) {
    params.push(scope.host)
    conds.push(`host = $${params.length}`)
  }
  if (scope.log !== undefined) {
    params.push(scope.log)
    conds.push(`log = $${params.length}`)
  }
  const r = await run<Record<string, unknown>>(
    db,
    'claim entries',
    `UPDATE ${t.entries} SET lease_until = ${NOW_MS} + $3, lease_owner = $1
     WHERE seq IN (SELECT seq FROM ${t.entries} WHERE ${conds.join(' AND ')} ORDER BY due_ts LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING ${ENTRY_COLUMNS}, ${NOW_MS} AS server_now`,
    params,
  )
  return { rows: r.rows, serverNow: r.rows.length > 0 ? Number(r.rows[0]!.server_now) : 0 }
}

export async function renew(db: Db, t: Tables, owner: string, seqs: number[], leaseMs: number): Promise<void> {
  if (seqs.length === 0) return
  await run(db, 'renew lease', `UPDATE ${t.entries} SET lease_until = ${NOW_MS} + $3 WHERE seq = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'retry'`, [
    seqs,
    owner,
    leaseMs,
  ])
}

/** Give back claimed entries that were not started (abort): claimable again at once. */
export async function release(db: Db, t: Tables, owner: string, seqs: number[]): Promise<void> {
  if (seqs.length === 0) return
  await run(db, 'release entries', `UPDATE ${t.entries} SET lease_until = NULL, lease_owner = NULL WHERE seq = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'retry'`, [
    seqs,
    owner,
  ])
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
}

export async function settle(db: Db, t: Tables, owner: string, delivered: number[], failed: Failure[]): Promise<void> {
  if (delivered.length === 0 && failed.length === 0) return
  await db.tx(async (q) => {
    if (delivered.length > 0) {
      await run(
        q,
        'settle delivered entries',
        `UPDATE ${t.entries} SET state = 'delivered', lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS}
         WHERE seq = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'retry'`,
        [delivered, owner],
      )
    }
    if (failed.length > 0) {
      const col = <K extends keyof Failure>(k: K) => failed.map((f) => f[k])
      await run(
        q,
        'settle failed entries',
        `UPDATE ${t.entries} AS e SET state = u.st, attempt = u.att, reason = u.rsn, fingerprint = u.fp, error_name = u.en,
           error_code = u.ec, final = u.fin, first_ts = coalesce(e.first_ts, e.ts), ts = u.ts, due_ts = u.due,
           lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS}
         FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[])
           AS u(seq, st, att, rsn, fp, en, ec, fin, ts, due)
         WHERE e.seq = u.seq AND e.lease_owner = $11 AND e.state = 'retry'`,
        [col('seq'), col('state'), col('attempt'), col('reason'), col('fingerprint'), col('errorName'), col('errorCode'), col('final'), col('ts'), col('dueTs'), owner],
      )
    }
  })
}
