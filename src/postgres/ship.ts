/**
 * `store.ship(path)`: forward a local log's retry segments, permanent log and corrupt
 * quarantine into the database, then delete each local file once its rows are committed.
 *
 * Towards the files it behaves like `replay(path)`: it holds the replay lock for the whole
 * run (so no local replay reads or appends the same files, and the corrupt quarantine —
 * appended only by that lock's holder — is still), first settles what a killed local
 * replay, requeue or purge left behind (src/store/recovery.ts), and asks a live writer to seal its
 * active retry and permanent files (or seals an orphaned one itself), so everything logged
 * before the call is shipped. Shipping progress needs no state file of its own: every row
 * has a stable key, so a file re-shipped after a crash inserts nothing twice, and a file is
 * only removed after the database has committed all of its rows.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { sealLog } from '../store/seal.js'
import { listSegments, type LogPaths, removeSegment, setAsideName } from '../store/segments.js'
import { realLogName, resolveLogPath } from '../store/log-path.js'
import { withMaintenance } from '../store/maintenance-session.js'
import { replayedUpTo } from './local-files.js'
import { BATCH_BYTES, insertIsolating } from './insert.js'
import { corruptRow, entryKey } from './rows.js'
import { type FileKind, shipFile, type ShipTarget } from './ship-file.js'
import type { ResolvedShipOptions } from './options.js'
import type { Stopped } from '../format/model.js'
import { compactCounts } from './kept-counts.js'

export interface ShipResult {
  /** Rows newly inserted by this call. */
  shipped: number
  /** Lines read that the database already held (re-shipped after an interruption). */
  duplicates: number
  /** Lines read, by the state they were shipped as (duplicates included). */
  retry: number
  permanent: number
  corrupt: number
  /**
   * Entries the database refused (a value it cannot hold that got past the checks in
   * pg-text.ts): each went in as a `corrupt` row with its line and the server's message, its
   * file and byte offset in `source` and `offset`. Counted in `corrupt`, not as retry/permanent.
   */
  refused: number
  /** Local files shipped and removed. */
  files: number
  /** Who sealed the active files: the live writer, this call (no writer alive), or nobody in time. */
  sealedBy: 'self' | 'writer' | 'timeout'
  /** The live writer answered the seal request with this error (its active files were not sealed). */
  sealError?: string
  /** What recovery of an interrupted local requeue/purge did first, in words. */
  recovered?: string
  /** 'abort' when stopped by the signal (what was committed stays; the rest ships next time). */
  stopped: Stopped
  durationMs: number
}

export async function shipLog(target: Omit<ShipTarget, 'log' | 'origin'>, logPath: string, o: ResolvedShipOptions): Promise<ShipResult> {
  const t0 = Date.now()
  const paths = await resolveLogPath('store.ship', logPath)
  const res: ShipResult = { shipped: 0, duplicates: 0, retry: 0, permanent: 0, corrupt: 0, refused: 0, files: 0, sealedBy: 'self', stopped: null, durationMs: 0 }
  // The replay lock, and recovery of whatever a killed replay, requeue or purge left behind
  // (the same recovery every local entry point runs), so what is shipped is a settled log.
  await withMaintenance(paths, { mode: o.mode, operation: 'ship' }, async (session) => {
    if (session.recovered) res.recovered = session.recovered
    // Keys (and the default name) from the real path: re-shipping through another spelling
    // after a crash between COMMIT and the local delete must find the keys it inserted.
    const origin = await realLogName(paths)
    const full: ShipTarget = { ...target, log: o.logName ?? origin, origin }
    const seal = await sealLog(paths, { permanent: true, timeout: o.sealTimeout, mode: o.mode, ...(o.signal ? { signal: o.signal } : {}) })
    res.sealedBy = seal.by
    if (seal.error !== undefined) res.sealError = seal.error
    const stopped = () => o.signal?.aborted === true
    const files: Array<{ file: { path: string; key: string; gz: boolean }; kind: FileKind; start: () => Promise<number> }> = []
    for (const seg of await listSegments(paths.retry)) files.push({ file: seg, kind: 'retry', start: () => replayedUpTo(seg) })
    for (const seg of await listSegments(paths.permanent)) files.push({ file: seg, kind: 'permanent', start: async () => 0 })
    if (await isFile(paths.corrupt)) files.push({ file: { path: paths.corrupt, key: paths.corrupt, gz: false }, kind: 'corrupt', start: async () => 0 })
    for (const f of files) {
      if (stopped()) break
      await shipOne(full, paths, f.file, f.kind, await f.start(), o, res)
    }
    res.stopped = stopped() ? 'abort' : null
    // Fold this round's count deltas (kept-counts.ts). Only an optimisation: the counts are
    // exact with the deltas pending, so a failure here fails nothing that was shipped.
    if (res.files > 0) await compactCounts(target.db, target.tables).catch(() => {})
  })
  res.durationMs = Date.now() - t0
  return res
}

async function shipOne(
  target: ShipTarget,
  paths: LogPaths,
  file: { path: string; key: string; gz: boolean },
  kind: FileKind,
  start: number,
  o: ResolvedShipOptions,
  res: ShipResult,
): Promise<void> {
  const opts = { batchSize: o.batchSize, batchBytes: BATCH_BYTES, maxRecordSize: o.maxRecordSize, mode: o.mode, shouldStop: () => o.signal?.aborted === true }
  let r
  try {
    r = await shipFile(target, file, kind, start, opts)
  } catch (err) {
    // Compressed by the writer since it was listed: the same records under `.gz`.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || file.gz) throw err
    file = { ...file, path: `${file.key}.gz`, gz: true }
    r = await shipFile(target, file, kind, start, opts)
  }
  res.shipped += r.inserted
  res.duplicates += r.entries - r.inserted
  res.retry += r.retry
  res.permanent += r.permanent
  res.corrupt += r.corrupt
  res.refused += r.refused
  if (r.read.stopped) return
  if (r.read.error) {
    // A damaged .gz: what could be read is shipped; the unreadable rest stays on this host,
    // set aside under a name no log pattern matches, and a corrupt row says where.
    const aside = await setAsideName(paths.dir, `corrupt-${path.basename(file.path)}`)
    await fsp.rename(file.path, aside)
    const why = `unreadable rest of ${path.basename(file.path)} after byte ${r.read.end} (${r.read.error.message}); file kept on this host as ${path.basename(aside)}`
    const src = path.basename(file.key)
    const marker = Buffer.from(`unreadable@${r.read.end}`)
    const n = await insertIsolating(target.db, target.tables, target.host, target.log, [
      corruptRow(entryKey(target.host, target.origin, src, r.read.end, marker), src, r.read.end, Buffer.alloc(0), why, Date.now()),
    ])
    res.shipped += n.inserted
    res.corrupt += n.inserted
  }
  // After a damaged .gz was set aside, a plain twin (a crash mid-compression) is the intact copy.
  await removeSegment(file, { twins: !r.read.error })
  res.files++
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.lstat(p)).isFile()
  } catch {
    return false
  }
}
