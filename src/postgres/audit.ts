/**
 * Repair before redrive and the audit trail on the central store (migration 4). A plain
 * requeue or purge writes its audit rows in the statement that changes the entries (a
 * data-modifying CTE: both or neither). A repair runs the transform on batches of rows
 * locked in one transaction (`FOR UPDATE SKIP LOCKED`: never a leased row, never waiting on
 * a worker): each changed row becomes a new retry row with `edit_of`, its original a
 * 'purged' tombstone (kept until prune()), and an audit row with the patch — all committed
 * together, so the trail always names exactly what moved.
 */
import { replayDefaults } from '../base/options.js'
import { type AuditRecord, type AuditRun, type LoadedTransform, TransformTally, applyTransform } from '../format/edit.js'
import type { EditOf, EntryLocation } from '../format/envelope.js'
import type { JsonPatchOp, RequeueResult } from '../format/model.js'
import { ReasonCounter } from '../format/reasons.js'
import { type Db, run } from './db.js'
import { ENTRY_COLUMNS, entryOfRow } from './entry.js'
import type { CompiledFilter } from './filters.js'
import { NOW_MS, type Tables, UNLEASED } from './schema.js'

const BATCH = 200
const TOP = 10

/** SHA-256 of a row's payload as the store holds it (jsonb's text; a payload jsonb cannot hold: its line). */
const PAYLOAD_SHA = (row: string) => `encode(sha256(convert_to(coalesce(${row}.payload::text, ${row}.raw, 'null'), 'UTF8')), 'hex')`

export function locationSql(row: string): string {
  return `jsonb_build_object('ref', ${row}.seq::text, 'file', ${row}.source, 'offset', ${row}.byte_offset, 'host', ${row}.host)`
}

/**
 * The audit CTE of a plain requeue or purge: one row per entry `changed` (a CTE returning
 * the changed rows' columns) names. `p(i)` numbers the run's five parameters.
 */
export function auditCte(t: Tables, changed: string, p: (i: number) => string): string {
  return `INSERT INTO ${t.audit} (at, run, op, actor, why, filter, entry_seq, entry_key, id, location, before_sha256)
          SELECT ${NOW_MS}, ${p(0)}::uuid, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, c.seq, c.entry_key, c.id, ${locationSql('c')}, ${PAYLOAD_SHA('c')} FROM ${changed} c`
}

export function auditParams(a: AuditRun): unknown[] {
  return [a.run, a.op, a.actor, a.why, a.filter]
}

interface RepairRun {
  filter: CompiledFilter
  limit: number
  dryRun: boolean
  audit: AuditRun
  signal: AbortSignal | undefined
}

type Row = Record<string, unknown> & { seq: string }

/** `store.requeue({ transform })`: repair, then redrive (dry run: what it would repair, with the first changes). */
export async function repairCentral(db: Db, t: Tables, tr: LoadedTransform, o: RepairRun, out: RequeueResult): Promise<RequeueResult> {
  const tally = new TransformTally(tr.source)
  const groups = new ReasonCounter(1000)
  const f = o.filter
  let after = 0
  for (;;) {
    if (out.count >= o.limit || o.signal?.aborted) break
    const done = await db.tx(async (q) => {
      const r = await run<Row>(
        q,
        'requeue (repair)',
        `SELECT ${ENTRY_COLUMNS}, entry_key FROM ${t.entries} WHERE seq > $1 AND ${f.where} AND ${UNLEASED} ORDER BY seq LIMIT ${BATCH}
         ${o.dryRun ? '' : 'FOR UPDATE SKIP LOCKED'}`,
        [after, ...f.params],
      )
      const edits: Array<{ seq: string; payload: string; edit_of: EditOf; patch: unknown; undo: unknown }> = []
      for (const row of r.rows) {
        after = Number(row.seq)
        if (out.count + edits.length >= o.limit) break
        const entry = entryOfRow(row)
        const location: EntryLocation = { ref: entry.ref, file: entry.file, offset: entry.offset, host: row.host as string }
        let outcome = applyTransform(tr, JSON.stringify(entry.payload ?? null), entry)
        if (outcome.kind === 'changed' && Buffer.byteLength(outcome.text) > replayDefaults.maxRecordSize) {
          outcome = { kind: 'failed', reason: `the new payload is ${Buffer.byteLength(outcome.text)} bytes, over maxRecordSize (${replayDefaults.maxRecordSize})` }
        }
        tally.add(outcome, location, entry.id, o.dryRun)
        if (outcome.kind !== 'changed') continue
        groups.addTo(row.fingerprint as string, entry.reason, entry.ts)
        edits.push({ seq: row.seq, payload: outcome.text, edit_of: entry.id === undefined ? { location } : { id: entry.id, location }, patch: outcome.patch, undo: outcome.undo })
      }
      if (!o.dryRun && edits.length > 0) await applyEdits(q, t, o.audit, edits)
      out.count += edits.length
      return r.rows.length < BATCH
    })
    if (done) break
  }
  out.transform = tally.done()
  out.reasons = groups.top(TOP)
  out.stopped = o.signal?.aborted ? 'abort' : out.count >= o.limit ? 'limit' : null
  return out
}

/** The new rows, their originals made tombstones, and the audit rows: one statement. */
async function applyEdits(q: Parameters<Parameters<Db['tx']>[0]>[0], t: Tables, a: AuditRun, edits: unknown[]): Promise<void> {
  const lineage = 'first_reason, first_error_name, first_error_code, first_fingerprint, history, origin, stack'
  await run(
    q,
    'requeue (repair)',
    `WITH input AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(seq bigint, payload text, edit_of jsonb, patch jsonb, undo jsonb)
     ), orig AS (
       UPDATE ${t.entries} e SET state = 'purged', lease_until = NULL, lease_owner = NULL, updated_at = ${NOW_MS}
       FROM input WHERE e.seq = input.seq RETURNING e.*
     ), ins AS (
       INSERT INTO ${t.entries} (entry_key, host, log, source, byte_offset, state, attempt, reason, fingerprint, id, ts, first_ts, due_ts,
                                 error_name, error_code, final, payload, raw, shipped_at, updated_at, trace, ${lineage}, redrives, edit_of)
       SELECT gen_random_uuid(), o.host, o.log, o.source, o.byte_offset, 'retry', 1, o.reason, o.fingerprint, o.id, o.ts, coalesce(o.first_ts, o.ts), 0,
              o.error_name, o.error_code, NULL, i.payload::jsonb, NULL, o.shipped_at, ${NOW_MS}, o.trace, ${lineage
                .split(', ')
                .map((c) => `o.${c}`)
                .join(', ')}, o.redrives + 1, i.edit_of
       FROM orig o JOIN input i ON i.seq = o.seq
       RETURNING seq, (edit_of->'location'->>'ref')::bigint AS orig_seq, payload
     )
     INSERT INTO ${t.audit} (at, run, op, actor, why, filter, transform, entry_seq, entry_key, id, location, before_sha256, after_sha256, patch, undo, new_seq)
     SELECT ${NOW_MS}, $2::uuid, $3, $4, $5, $6, $7::jsonb, o.seq, o.entry_key, o.id, ${locationSql('o')}, ${PAYLOAD_SHA('o')},
            encode(sha256(convert_to(ins.payload::text, 'UTF8')), 'hex'), i.patch, i.undo, ins.seq
     FROM orig o JOIN input i ON i.seq = o.seq JOIN ins ON ins.orig_seq = o.seq`,
    [JSON.stringify(edits), a.run, a.op, a.actor, a.why, a.filter, JSON.stringify(a.transform)],
  )
}

/**
 * `store.readAudit(ref)`: the audit rows that name one entry — changes to the row itself
 * (`entry_seq`), and the repair that made it (`new_seq`) — as the records a local log's
 * audit file holds, newest `limit` of them, oldest first.
 */
export async function readAuditRows(db: Db, t: Tables, ref: string, limit: number): Promise<AuditRecord[]> {
  const r = await run<Record<string, unknown>>(
    db,
    'read audit',
    `SELECT * FROM (
       SELECT seq, at, run, op, actor, why, filter, transform, id, location, before_sha256, after_sha256, patch, undo FROM ${t.audit}
       WHERE entry_seq = $1 OR new_seq = $1 ORDER BY seq DESC LIMIT $2
     ) a ORDER BY seq`,
    [ref, limit],
  )
  return r.rows.map((row) => {
    const rec: AuditRecord = {
      v: 1,
      at: Number(row.at),
      run: row.run as string,
      op: row.op as AuditRecord['op'],
      actor: row.actor as string,
      why: (row.why as string | null) ?? null,
      filter: row.filter as string,
      transform: (row.transform as AuditRecord['transform']) ?? null,
      location: row.location as EntryLocation,
      before: row.before_sha256 as string,
    }
    if (row.id !== null) rec.id = row.id as string
    if (row.after_sha256 !== null) rec.after = row.after_sha256 as string
    if (row.patch !== null) rec.patch = row.patch as JsonPatchOp[]
    if (row.undo !== null) rec.undo = row.undo as JsonPatchOp[]
    return rec
  })
}
