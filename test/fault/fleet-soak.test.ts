/**
 * The hostile fleet soak, on a real throwaway PostgreSQL. Writer processes (a Logger each, on
 * a log of their own, one host each) log entries with hostile text, numbers and depths
 * (helpers/hostile.ts); shipper processes ship them with `startShipper`; central worker
 * processes run `store.replay` with handlers that record every call (helpers/handler-records.ts)
 * and throw odd values; this process requeues and purges meanwhile. Shippers and workers are
 * SIGKILLed at random and restarted. Then the writers close, a final ship runs, the workers
 * drain the table, and every acknowledged entry is accounted for:
 *
 * - each acknowledged key is in exactly one row (by id, or in a corrupt row's raw text), and
 *   nothing else is in the table: acknowledged = delivered + permanent + corrupt + purged;
 * - no entry was ever in two handler calls at once (the rule for calls a kill cut short is
 *   in handler-records.ts), no requeue took an entry from a live lease, no purge took a retry
 *   entry, nothing left delivered or purged (a trigger records every state change);
 * - every delivered entry had a successful handler call, and successful calls repeated (a
 *   worker killed between its handler and settling) stay within one claimed batch per
 *   killed worker;
 * - no writer, shipper or worker error, and no process died except by our SIGKILL.
 *
 * All violations are collected and reported together, with the figures and the seed.
 *
 * Knobs (fast default / SOAK=1 default): DLQ_SOAK_FLEET_WRITERS (2/4), DLQ_SOAK_FLEET_ENTRIES
 * per writer (300/10000), DLQ_SOAK_FLEET_SHIPPERS (1/2), DLQ_SOAK_FLEET_WORKERS (2/3),
 * DLQ_SOAK_FLEET_KILLS (6/200), DLQ_SOAK_FLEET_MAX_RECORD bytes (262144/1048576),
 * DLQ_SOAK_FLEET_LEASE ms (2500), DLQ_SOAK_HOSTILE (categories, see helpers/hostile.ts),
 * DLQ_FAULT_SEED.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import pg from 'pg'
import { expect, it } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import { listSegments, logPaths } from '../../src/store/segments.js'
import { killAfterTest } from '../helpers/child.js'
import { Rng } from '../helpers/rng.js'
import { tmpDir } from '../helpers/tmp.js'
import { useCluster } from '../postgres/setup.js'
import { budget, count, report, SEED, SOAK } from './helpers/config.js'
import { exited, forkFault, sleep, waitMessage } from './helpers/fork.js'
import { closeOpen, type Interval, overlaps, readIntervals } from './helpers/handler-records.js'
import { ALL_CATEGORIES, hostileCategories, KEY_IN_LINE, keyOfId } from './helpers/hostile.js'

const WRITERS = count('DLQ_SOAK_FLEET_WRITERS', 2, 4)
const ENTRIES = count('DLQ_SOAK_FLEET_ENTRIES', 300, 10_000)
const SHIPPERS = count('DLQ_SOAK_FLEET_SHIPPERS', 1, 2)
const WORKERS = count('DLQ_SOAK_FLEET_WORKERS', 2, 3)
const KILLS = count('DLQ_SOAK_FLEET_KILLS', 6, 200)
const MAX_RECORD = count('DLQ_SOAK_FLEET_MAX_RECORD', 256 * 1024, 1024 * 1024)
const LEASE = count('DLQ_SOAK_FLEET_LEASE', 2500, 2500)
const CATS = hostileCategories()
const SCHEMA = 'fleet'

const pgc = useCluster()

type Child = ReturnType<typeof forkFault>

interface Proc {
  role: 'shipper' | 'worker'
  slot: number
  child: Child
  pid: number
  batchSize: number
  /** hrtime just before our SIGKILL, or when an exit we did not cause was seen. */
  death?: bigint
  killed: boolean
  stopping: boolean
}

/** Counts by a label, plus the first message seen for each. */
class Tally {
  readonly counts = new Map<string, number>()
  readonly samples = new Map<string, string>()
  add(label: string, sample = ''): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1)
    if (!this.samples.has(label)) this.samples.set(label, sample)
  }
  get total(): number {
    let n = 0
    for (const c of this.counts.values()) n += c
    return n
  }
  describe(): string {
    return [...this.counts].map(([k, c]) => `${k} ×${c} (${this.samples.get(k)})`).join('; ')
  }
}

/** Records every state change of a row, and requeues of retry rows, in the same transaction. */
async function installAudit(client: pg.Client): Promise<void> {
  await client.query(`CREATE TABLE ${SCHEMA}.soak_transitions (
    seq bigint, old_state text, new_state text, old_lease_owner text, old_lease_until bigint, new_due_ts bigint, at_ms bigint)`)
  await client.query(`CREATE FUNCTION ${SCHEMA}.soak_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO ${SCHEMA}.soak_transitions VALUES (OLD.seq, OLD.state, NEW.state, OLD.lease_owner, OLD.lease_until, NEW.due_ts,
        (extract(epoch from clock_timestamp()) * 1000)::bigint);
      RETURN NULL;
    END $$`)
  // A requeue sets due_ts to 0 and clears the lease; a settle always sets a due time ahead.
  await client.query(`CREATE TRIGGER soak_audit AFTER UPDATE ON ${SCHEMA}.entries FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR (NEW.state = 'retry' AND NEW.due_ts = 0 AND OLD.lease_owner IS NOT NULL AND NEW.lease_owner IS NULL))
    EXECUTE FUNCTION ${SCHEMA}.soak_audit()`)
}

/**
 * Keys of entries still in local files after the final ship, and whether each is in a file
 * shipping reads (a segment, the active or permanent file, the quarantine: left behind, i.e.
 * blocked) or only in one it does not (set aside on this host as that entry alone).
 */
async function localKeys(logPath: string): Promise<Map<string, { file: string; blocked: boolean }>> {
  const paths = logPaths(logPath)
  const shipped = new Set([paths.active, paths.permanentActive, paths.corrupt])
  for (const seg of [...(await listSegments(paths.retry)), ...(await listSegments(paths.permanent))]) shipped.add(seg.path)
  const out = new Map<string, { file: string; blocked: boolean }>()
  const re = /\\?"id\\?":\\?"(SOAK-w\d+-\d+)\./g
  for (const name of fs.readdirSync(paths.dir)) {
    const file = path.join(paths.dir, name)
    if (!fs.statSync(file).isFile()) continue
    let buf = fs.readFileSync(file)
    if (name.endsWith('.gz')) {
      try {
        buf = zlib.gunzipSync(buf, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      } catch {
        continue
      }
    }
    const blocked = shipped.has(file)
    for (const m of buf.toString('utf8').matchAll(re)) {
      if (!out.get(m[1]!)?.blocked) out.set(m[1]!, { file: name, blocked })
    }
  }
  return out
}

it(
  `hostile fleet: ${WRITERS} writers × ${ENTRIES} entries, ${SHIPPERS} shippers and ${WORKERS} workers SIGKILLed ${KILLS} times, requeue and purge meanwhile: every acknowledged entry once, never in two handlers`,
  async () => {
    const t0 = Date.now()
    const hostile = ALL_CATEGORIES.filter((c) => CATS.has(c))
    console.log(`fleet soak seed: ${SEED} (DLQ_FAULT_SEED=${SEED} to repeat); hostile: ${hostile.join(',') || 'none'} (DLQ_SOAK_HOSTILE)`)
    const rng = new Rng(SEED)
    const dir = tmpDir('dlq-fleet-')
    const records = path.join(dir, 'records')
    fs.mkdirSync(records)
    const violations: string[] = []
    const url = pgc.url

    const admin = await PostgresStore.connect(url, { schema: SCHEMA, host: 'admin' })
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await installAudit(client)

      // ---------------------------------------------------------------- writers
      const logs = Array.from({ length: WRITERS }, (_, w) => {
        fs.mkdirSync(path.join(dir, `w${w}`))
        return { path: path.join(dir, `w${w}`, 'orders.log'), host: `host-w${w}` }
      })
      const acked = new Map<string, string>()
      const refused = new Map<string, string>()
      const refusedCodes = new Tally()
      const writtenTotal = new Array<number>(WRITERS).fill(0)
      const writers = logs.map((l, w) => {
        const c = killAfterTest(forkFault('fleet-writer.ts', [l.path, String(w), String(SEED * 31 + w), String(MAX_RECORD), rng.chance(0.3) ? '1' : '0']))
        c.on('message', (m: { type: string; keys?: Array<[string, string]>; items?: Array<[string, string]>; total?: number }) => {
          if (m.type === 'acks') for (const [k, cat] of m.keys!) acked.set(k, cat)
          if (m.type === 'refused') {
            for (const [k, code] of m.items!) {
              refused.set(k, code)
              refusedCodes.add(code, k)
            }
          }
          if (m.type === 'written') writtenTotal[w] = m.total!
        })
        return c
      })
      await Promise.all(writers.map((c) => waitMessage(c, (m) => m.type === 'ready', 60_000)))

      // ---------------------------------------------------------------- shippers and workers
      const procs: Proc[] = []
      const current = new Map<string, Proc>()
      const shipErrors = new Tally()
      const workerErrors = new Tally()
      const unexpectedExits: string[] = []
      let maxStallMs = 0
      let shipRounds = 0
      let generation = 0
      const shipperLogs = (slot: number) => logs.filter((_, i) => i % SHIPPERS === slot)
      const spawn = async (role: Proc['role'], slot: number): Promise<Proc> => {
        const seed = String(SEED * 7 + ++generation)
        const child = killAfterTest(
          role === 'shipper'
            ? forkFault('fleet-shipper.ts', [url, SCHEMA, JSON.stringify(shipperLogs(slot)), seed, String(MAX_RECORD)])
            : forkFault('fleet-worker.ts', [url, SCHEMA, records, seed, String(LEASE)]),
        )
        const p: Proc = { role, slot, child, pid: child.pid!, batchSize: 0, killed: false, stopping: false }
        procs.push(p)
        current.set(`${role}${slot}`, p)
        child.on('message', (m: Record<string, any>) => {
          if (m.type === 'shipped') shipRounds++
          if (m.type === 'error') (role === 'shipper' ? shipErrors : workerErrors).add(`${m.code}${m.pgCode ? `/${m.pgCode}` : ''}`, m.message)
          if (m.type === 'summary') maxStallMs = Math.max(maxStallMs, m.stallMs)
        })
        child.once('exit', (code, signal) => {
          if (p.killed) return
          p.death = process.hrtime.bigint()
          // A stop that did not end in a clean exit is reported by stop().
          if (!p.stopping) unexpectedExits.push(`${role} ${p.pid} exited (${code ?? signal}): ${child.stderrText().slice(-1500)}`)
        })
        const ready = await waitMessage(child, (m) => m.type === 'ready', 60_000)
        p.batchSize = ready.batchSize ?? 0
        return p
      }
      await Promise.all([
        ...Array.from({ length: SHIPPERS }, (_, s) => spawn('shipper', s)),
        ...Array.from({ length: WORKERS }, (_, s) => spawn('worker', s)),
      ])

      // ---------------------------------------------------------------- requeue and purge, meanwhile
      const adminOps = new Tally()
      const adminErrors = new Tally()
      let purgedByCalls = 0
      let requeuedByCalls = 0
      let stopAdmin = false
      const adminRng = new Rng(SEED ^ 0x5eed)
      const reasonWords = ['rejected', 'upstream', 'failed', 'odd', 'nul', 'thrown']
      const pickHost = () => `host-w${adminRng.int(0, WRITERS - 1)}`
      const ops: Array<[string, () => Promise<{ dryRun: boolean; count: number }>]> = [
        ['requeue permanent, limit', () => admin.requeue({ kind: 'permanent', limit: adminRng.int(1, 30), resetAttempts: adminRng.chance(0.5) })],
        ['requeue permanent, reason', () => admin.requeue({ kind: 'permanent', reason: adminRng.pick(reasonWords), resetAttempts: adminRng.chance(0.5) })],
        ['requeue permanent, host', () => admin.requeue({ kind: 'permanent', host: pickHost(), limit: 50, resetAttempts: true })],
        ['requeue permanent, regexp', () => admin.requeue({ kind: 'permanent', reason: /rejected|unavailable/i, limit: 20, dryRun: adminRng.chance(0.3) })],
        ['purge permanent, limit', () => admin.purge({ kind: 'permanent', limit: adminRng.int(1, 10) })],
        ['purge permanent, reason', () => admin.purge({ kind: 'permanent', reason: /rejected|odd/, limit: adminRng.int(1, 20) })],
        ['purge permanent, host, dry run', () => admin.purge({ kind: 'permanent', host: pickHost(), limit: 5, dryRun: true })],
      ]
      if (CATS.has('requeue-retry')) {
        ops.push(['requeue retry', () => admin.requeue({ kind: 'retry' })])
        ops.push(['requeue retry, limit', () => admin.requeue({ kind: 'retry', limit: 100 })])
      }
      if (CATS.has('purge-nostate')) {
        ops.push(['purge without kind, limit', () => admin.purge({ limit: adminRng.int(1, 20) } as never)])
        ops.push(['purge without kind, reason', () => admin.purge({ reason: /upstream|rejected/, limit: 10 } as never)])
      }
      const adminLoop = (async () => {
        while (!stopAdmin) {
          await sleep(adminRng.int(30, 300))
          const [name, op] = adminRng.pick(ops)
          try {
            const r = await op()
            adminOps.add(name)
            if (!r.dryRun && name.startsWith('purge')) purgedByCalls += r.count
            if (!r.dryRun && name.startsWith('requeue')) requeuedByCalls += r.count
          } catch (err) {
            const e = err as { code?: string; message?: string }
            // A purge without `kind` is refused, as the local purge refuses one.
            if (name.startsWith('purge without kind') && (e.code === 'DLQ_INVALID_OPTION' || e.code === 'DLQ_INVALID_ARGUMENT')) adminOps.add(`${name} (refused)`)
            else adminErrors.add(`${name}: ${e.code ?? 'no code'}`, String(e.message ?? err).slice(0, 300))
          }
        }
      })()

      // ---------------------------------------------------------------- chaos: write, kill, restart
      const kills = { shipper: 0, worker: 0 }
      const chunk = Math.ceil(ENTRIES / KILLS)
      let sent = 0
      for (let step = 0; step < KILLS; step++) {
        const n = Math.min(chunk, ENTRIES - sent)
        if (n > 0) for (const c of writers) c.send({ type: 'write', count: n })
        sent += n
        await sleep(rng.int(100, 700))
        const victim = rng.pick([...current.values()])
        victim.killed = true
        victim.death = process.hrtime.bigint()
        victim.child.kill('SIGKILL')
        await exited(victim.child)
        kills[victim.role]++
        await spawn(victim.role, victim.slot)
      }
      await Promise.all(writers.map((c, w) => (writtenTotal[w] === ENTRIES ? undefined : waitMessage(c, () => writtenTotal[w] === ENTRIES, budget(60_000)))))
      await Promise.all(writers.map(async (c) => {
        c.send({ type: 'close' })
        await waitMessage(c, (m) => m.type === 'closed', 60_000)
        expect((await exited(c)).code, c.stderrText()).toBe(0)
      }))
      const writingMs = Date.now() - t0
      stopAdmin = true
      await adminLoop

      // ---------------------------------------------------------------- final ship, drain
      const stop = async (p: Proc) => {
        p.stopping = true
        p.child.send({ type: 'stop' })
        const ex = await exited(p.child)
        if (ex.code !== 0) violations.push(`${p.role} ${p.pid} did not stop cleanly (${ex.code ?? ex.signal}): ${p.child.stderrText().slice(-800)}`)
      }
      await Promise.all([...current.values()].filter((p) => p.role === 'shipper').map(stop))
      for (const l of logs) {
        const s = await PostgresStore.connect(url, { schema: SCHEMA, host: l.host })
        try {
          await s.ship(l.path, { maxRecordSize: MAX_RECORD })
        } catch (err) {
          const e = err as { code?: string; cause?: { code?: string }; message?: string }
          violations.push(`final ship of ${l.host} failed: ${e.code}/${e.cause?.code}: ${String(e.message).slice(0, 400)}`)
        } finally {
          await s.close()
        }
      }
      // Drained when no retry row is left; stuck when nothing changed for four leases, or when
      // it takes longer than any healthy drain would (progress can be a trickle, e.g. batches
      // of one entry settling while every larger batch fails to).
      const snapshot = async () =>
        JSON.stringify((await client.query(`SELECT state, attempt, count(*) FROM ${SCHEMA}.entries GROUP BY 1, 2 ORDER BY 1, 2`)).rows)
      const retryLeft = async () => Number((await client.query(`SELECT count(*) AS n FROM ${SCHEMA}.entries WHERE state = 'retry'`)).rows[0].n)
      let last = await snapshot()
      let lastChange = Date.now()
      const stuckAfter = Math.max(10_000, 4 * LEASE)
      const drainStart = Date.now()
      const drainBudget = 30_000 + 2 * acked.size
      while ((await retryLeft()) > 0) {
        if (Date.now() - drainStart > drainBudget) {
          violations.push(`draining did not finish in ${drainBudget} ms: ${await retryLeft()} retry rows left`)
          break
        }
        await sleep(100)
        const s = await snapshot()
        if (s !== last) {
          last = s
          lastChange = Date.now()
        } else if (Date.now() - lastChange > stuckAfter) {
          violations.push(`draining stuck: ${await retryLeft()} retry rows left, nothing changed for ${stuckAfter} ms`)
          break
        }
      }
      await Promise.all([...current.values()].filter((p) => p.role === 'worker').map(stop))
      const durationMs = Date.now() - t0

      // ---------------------------------------------------------------- accounting
      const rows = (
        await client.query<{ seq: string; state: string; id: string | null; raw: string | null; pk: string | null; reason: string | null }>(
          `SELECT seq, state, substr(id, 1, 200) AS id, substr(raw, 1, 70000) AS raw,
                  CASE WHEN jsonb_typeof(payload) = 'object' THEN payload->>'k' END AS pk, substr(reason, 1, 200) AS reason
           FROM ${SCHEMA}.entries`,
        )
      ).rows
      const rowsByKey = new Map<string, typeof rows>()
      const unidentified: string[] = []
      for (const r of rows) {
        const pk = r.pk?.startsWith('SOAK-') ? r.pk : undefined
        const key = keyOfId(r.id) ?? (r.raw ? KEY_IN_LINE.exec(r.raw)?.[1] : undefined) ?? pk
        if (key === undefined) {
          unidentified.push(`seq ${r.seq} ${r.state}: ${JSON.stringify((r.raw ?? r.reason ?? '').slice(0, 200))}`)
          continue
        }
        const l = rowsByKey.get(key)
        if (l) l.push(r)
        else rowsByKey.set(key, [r])
      }
      const local = new Map<string, { file: string; blocked: boolean }>()
      for (const l of logs) for (const [k, v] of await localKeys(l.path)) local.set(k, v)
      const states = { delivered: 0, permanent: 0, corrupt: 0, purged: 0, retry: 0, other: 0 }
      let corruptKeptLocally = 0
      const lostKeys: string[] = []
      const unshipped = new Tally()
      const duplicated: string[] = []
      const stateOf = new Map<string, string>()
      for (const [key, cat] of acked) {
        const rs = rowsByKey.get(key) ?? []
        if (rs.length === 0) {
          const here = local.get(key)
          if (here === undefined) lostKeys.push(`${key} (${cat})`)
          else if (here.blocked) unshipped.add(cat, `${key} in ${here.file}`)
          else {
            // Set aside on its host as that entry alone: a corrupt entry kept locally.
            states.corrupt++
            corruptKeptLocally++
          }
          continue
        }
        if (rs.length > 1) duplicated.push(`${key} (${cat}): ${rs.map((r) => `${r.seq}:${r.state}`).join(', ')}`)
        const st = rs[0]!.state
        stateOf.set(key, st)
        if (st in states) states[st as keyof typeof states]++
        else states.other++
      }
      const strays = [...rowsByKey.keys()].filter((k) => !acked.has(k)).map((k) => `${k}${refused.has(k) ? ` (refused by log(): ${refused.get(k)})` : ''}`)

      const transitions = (
        await client.query<{ seq: string; old_state: string; new_state: string; live: boolean }>(
          `SELECT seq, old_state, new_state, (old_lease_until > at_ms) AS live FROM ${SCHEMA}.soak_transitions`,
        )
      ).rows
      const purgedRetry = transitions.filter((t) => t.old_state === 'retry' && t.new_state === 'purged').length
      const leaseTaken = transitions.filter((t) => t.old_state === 'retry' && t.new_state === 'retry' && t.live).length
      const leftFinal = transitions.filter((t) => (t.old_state === 'delivered' || t.old_state === 'purged') && t.new_state !== t.old_state).length
      const purgeTransitions = transitions.filter((t) => t.new_state === 'purged' && t.old_state !== 'purged').length

      // Handler calls: overlaps, successes, duplicates.
      const intervals: Interval[] = readIntervals(records)
      const deathOf = new Map(procs.map((p) => [p.pid, p.death]))
      const cutByKill = closeOpen(intervals, (pid) => deathOf.get(pid))
      const overlapping = overlaps(intervals)
      const okCalls = new Map<string, number>()
      for (const iv of intervals) if (iv.outcome === 'ok') okCalls.set(iv.key, (okCalls.get(iv.key) ?? 0) + 1)
      let repeatedSuccesses = 0
      for (const c of okCalls.values()) repeatedSuccesses += c - 1
      const killedBatches = procs.filter((p) => p.role === 'worker' && p.killed).reduce((n, p) => n + p.batchSize, 0)
      const deliveredWithoutCall = [...stateOf].filter(([k, st]) => st === 'delivered' && !okCalls.has(k)).map(([k]) => k)

      // ---------------------------------------------------------------- verdict
      const hostileAcked = new Tally()
      for (const cat of acked.values()) if (cat !== 'ordinary') hostileAcked.add(cat)
      const figures = {
        seed: SEED,
        hostile: hostile.join(',') || 'none',
        acknowledged: acked.size,
        hostileAcknowledged: hostileAcked.total,
        refusedByLog: refused.size,
        delivered: states.delivered,
        permanent: states.permanent,
        corrupt: states.corrupt,
        corruptKeptLocally,
        purged: states.purged,
        lost: lostKeys.length,
        unshipped: unshipped.total,
        duplicated: duplicated.length,
        shipperKills: kills.shipper,
        workerKills: kills.worker,
        shipRounds,
        handlerCalls: intervals.length,
        callsCutByKill: cutByKill,
        repeatedSuccesses,
        repeatBound: killedBatches,
        overlaps: overlapping.length,
        requeueCalls: [...adminOps.counts].filter(([k]) => k.startsWith('requeue')).reduce((n, [, c]) => n + c, 0),
        requeued: requeuedByCalls,
        purgeCalls: [...adminOps.counts].filter(([k]) => k.startsWith('purge')).reduce((n, [, c]) => n + c, 0),
        purgedByCalls,
        leasesTakenByRequeue: leaseTaken,
        retryPurged: purgedRetry,
        maxWorkerStallMs: maxStallMs,
        entriesPerSec: Math.round((acked.size / writingMs) * 1000),
        handlerCallsPerSec: Math.round((intervals.length / durationMs) * 1000),
        killsPerMin: Math.round(((kills.shipper + kills.worker) / durationMs) * 60_000),
        durationMs,
      }
      report('fleet-soak', figures)
      if (!SOAK) console.log(`[fault] fleet-soak: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`)
      if (hostileAcked.total > 0) console.log(`fleet soak hostile entries acknowledged: ${[...hostileAcked.counts].map(([k, c]) => `${k}=${c}`).join(' ')}`)

      const some = (xs: string[]) => `${xs.slice(0, 5).join('; ')}${xs.length > 5 ? ` … (${xs.length} in all)` : ''}`
      const unexpectedRefusals = [...refusedCodes.counts.keys()].filter((c) => c !== 'DLQ_RECORD_TOO_LARGE')
      if (unexpectedRefusals.length > 0) violations.push(`log() refused entries: ${refusedCodes.describe()}`)
      if (unexpectedExits.length > 0) violations.push(`processes died on their own: ${some(unexpectedExits)}`)
      if (shipErrors.total > 0) violations.push(`shipping failed ${shipErrors.total} times: ${shipErrors.describe()}`)
      if (workerErrors.total > 0) violations.push(`store.replay rejected ${workerErrors.total} times: ${workerErrors.describe()}`)
      if (adminErrors.total > 0) violations.push(`requeue/purge failed: ${adminErrors.describe()}`)
      if (lostKeys.length > 0) violations.push(`lost (neither in the table nor in a local file): ${some(lostKeys)}`)
      if (unshipped.total > 0) violations.push(`acknowledged entries still only in local files after the final ship, by category: ${unshipped.describe()}`)
      if (duplicated.length > 0) violations.push(`entries in more than one row: ${some(duplicated)}`)
      if (strays.length > 0) violations.push(`rows of entries never acknowledged: ${some(strays)}`)
      if (unidentified.length > 0) violations.push(`rows that name no entry: ${some(unidentified)}`)
      if (states.retry + states.other > 0) violations.push(`entries not settled after draining: ${states.retry} retry, ${states.other} other`)
      if (overlapping.length > 0) {
        const ex = overlapping.map(([a, b]) => `${a.key} (row ${a.seq}) in ${a.pid} and ${b.pid}, ${Number(a.end! - b.begin) / 1e6} ms at once`)
        violations.push(`entries in two handlers at once: ${some(ex)}${maxStallMs > (2 * LEASE) / 3 ? ` (a worker stalled ${maxStallMs} ms: a lease can have expired)` : ''}`)
      }
      if (leaseTaken > 0) violations.push(`requeue took ${leaseTaken} entries from live leases`)
      if (purgedRetry > 0) violations.push(`purge took ${purgedRetry} retry entries`)
      if (leftFinal > 0) violations.push(`${leftFinal} delivered or purged entries changed state again`)
      if (purgeTransitions !== purgedByCalls || purgeTransitions !== states.purged) {
        violations.push(`purge counts disagree: the calls reported ${purgedByCalls}, rows became purged ${purgeTransitions} times, ${states.purged} are purged`)
      }
      if (deliveredWithoutCall.length > 0) violations.push(`delivered without a successful handler call: ${some(deliveredWithoutCall)}`)
      if (repeatedSuccesses > killedBatches) {
        violations.push(`${repeatedSuccesses} successful handler calls repeated, more than one claimed batch per killed worker (${killedBatches})`)
      }
      const sum = states.delivered + states.permanent + states.corrupt + states.purged
      expect(violations, `fleet soak (seed ${SEED}, hostile ${figures.hostile}): acknowledged ${acked.size} = delivered ${states.delivered} + permanent ${states.permanent} + corrupt ${states.corrupt} + purged ${states.purged} (= ${sum})?`).toEqual([])
      expect(sum).toBe(acked.size)
    } finally {
      await client.end().catch(() => {})
      await admin.close().catch(() => {})
    }
  },
  budget(120_000),
)
