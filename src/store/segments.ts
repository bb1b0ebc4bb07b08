/**
 * Segment files: naming, discovery, sealing and compression.
 *
 * For a log at `dir/orders.log`:
 *   orders.log                      active retry segment (owned by the writer)
 *   orders.000000000007.log[.gz]    sealed by the writer (rotation, rotate(), seal request)
 *   orders.r000000000003.log[.gz]   created and sealed by a replayer in another process
 *   orders.000000000007.log.state   replay checkpoint of that segment
 *   permanent-orders.log, permanent-orders.000000000002.log, …   the permanent log, same scheme
 *   corrupt-orders.log              quarantined lines (written only by the replay-lock holder)
 *   .orders.log.lock, .orders.log.replay.lock, .orders.log.seal-request, .orders.log.seal-done
 *
 * Writer and replayer number their segments in separate namespaces (`N` and `rN`), so a
 * writer's rotation can never race a replayer for the same name. Discovery
 * matches these exact patterns; nothing else in the directory is ever read or deleted.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import { DeadLetterError, ioError } from '../base/errors.js'
import { CREATE_EXCL_FLAGS, O_NOFOLLOW, fsyncDir, unlinkIfExists } from '../base/fs-safe.js'
import { type LineHandler, readLines } from '../format/lines.js'

const SEQ_DIGITS = 12

export interface LogPaths {
  dir: string
  /** File name of the active retry segment, e.g. `orders.log`. */
  file: string
  /** `orders` */
  name: string
  /** `.log` (may be empty) */
  ext: string
  active: string
  permanentActive: string
  corrupt: string
  writerLock: string
  replayLock: string
  sealRequest: string
  sealDone: string
  retry: SegmentFamily
  permanent: SegmentFamily
}

/** One family of segments: the retry log or the permanent log. */
export interface SegmentFamily {
  dir: string
  /** Base name without extension: `orders` or `permanent-orders`. */
  base: string
  ext: string
  active: string
  pattern: RegExp
  tmpPattern: RegExp
}

export function logPaths(logPath: string): LogPaths {
  // Every entry point (open, replay, sealLog, the CLI) passes through here; Node would only
  // fail later, as an I/O error naming some lock file.
  if (logPath.includes('\0')) throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: a log path cannot contain a NUL byte: ${JSON.stringify(logPath)}`)
  const abs = path.resolve(logPath)
  const dir = path.dirname(abs)
  const file = path.basename(abs)
  const ext = path.extname(file)
  const name = ext ? file.slice(0, -ext.length) : file
  assertOwnNamespace(file, name)
  return {
    dir,
    file,
    name,
    ext,
    active: abs,
    permanentActive: path.join(dir, `permanent-${file}`),
    corrupt: path.join(dir, `corrupt-${file}`),
    writerLock: path.join(dir, `.${file}.lock`),
    replayLock: path.join(dir, `.${file}.replay.lock`),
    sealRequest: path.join(dir, `.${file}.seal-request`),
    sealDone: path.join(dir, `.${file}.seal-done`),
    retry: family(dir, name, ext),
    permanent: family(dir, `permanent-${name}`, ext),
  }
}

/**
 * Two logs in one directory must never see each other's files: `permanent-a.log` would be
 * a.log's permanent log, and `orders.202411221200.log` would look like a sealed segment of
 * `orders.log` (replaying orders.log would consume and delete it). Such names are refused.
 */
function assertOwnNamespace(file: string, name: string): void {
  let why: string | undefined
  if (/^(permanent|corrupt)-/.test(file)) why = 'it starts with permanent- or corrupt-, which name the files of another log'
  else if (/\.r?\d{12}$/.test(name) || /^\.r?\d{12}$/.test(path.extname(file))) why = 'it ends in a 12-digit sequence, the naming of another log\'s sealed segments'
  else if (file.startsWith('.')) why = 'it starts with a dot, the naming of lock and control files'
  if (why) {
    throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${JSON.stringify(file)} cannot be a log file name: ${why}`)
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function family(dir: string, base: string, ext: string): SegmentFamily {
  const b = escapeRe(base)
  const e = escapeRe(ext)
  return {
    dir,
    base,
    ext,
    active: path.join(dir, base + ext),
    pattern: new RegExp(`^${b}\\.(r?)(\\d{${SEQ_DIGITS}})${e}(\\.gz)?$`),
    tmpPattern: new RegExp(`^${b}\\.(r?)(\\d{${SEQ_DIGITS}})${e}\\.gz\\.tmp$`),
  }
}

export type SegmentOwner = 'writer' | 'replayer'

export interface SegmentInfo {
  /** Full path of the file to read (`.gz` when compressed). */
  path: string
  /** Path without `.gz`: the identity used for checkpoints, stable across compression. */
  key: string
  owner: SegmentOwner
  seq: number
  gz: boolean
  size: number
  mtimeMs: number
}

export function segmentName(fam: SegmentFamily, owner: SegmentOwner, seq: number): string {
  return `${fam.base}.${owner === 'replayer' ? 'r' : ''}${String(seq).padStart(SEQ_DIGITS, '0')}${fam.ext}`
}

export function statePathOf(seg: SegmentInfo | string): string {
  return `${typeof seg === 'string' ? seg : seg.key}.state`
}

/** The count sidecar of a segment (store/counts/segment-meta.ts): one name for `X` and `X.gz`. */
export function metaPathOf(key: string): string {
  return `${key}.meta`
}

/**
 * Remove a segment and what belongs to it, the one way every remover does it (replay, ship,
 * rewrite, retention, recovery): `X` first, then `X.gz` — the order the compressor checks, so
 * one racing us never resurrects the segment (compressSegment) — then `path` if it is neither,
 * then the checkpoint, so a later segment of that name cannot resume at a stale offset, then
 * the count sidecar, then an fsync of the directory. A caller removes a retry segment only
 * once its outputs and checkpoint are durable (invariant 4). `twins: false` removes only
 * `path` of the two copies: a damaged `.gz` set aside leaves a plain twin, then the intact copy.
 */
export async function removeSegment(seg: { key: string; path: string }, opts: { twins?: boolean } = {}): Promise<void> {
  const files = opts.twins === false ? [seg.path] : [seg.key, `${seg.key}.gz`]
  if (!files.includes(seg.path)) files.push(seg.path)
  const fail = (what: string) => (err: unknown) => {
    throw ioError(what, err)
  }
  for (const f of [...files, statePathOf(seg.key), metaPathOf(seg.key)]) await unlinkIfExists(f).catch(fail(`remove ${f}`))
  await fsyncDir(path.dirname(seg.key)).catch(fail(`sync ${path.dirname(seg.key)}`))
}

/**
 * Remove sidecars whose segment is gone (neither `X` nor `X.gz` exists), left by a crash
 * between removing the two or by a segment deleted by hand (removeSegment takes them along):
 * count sidecars of both families, caches whose early removal only costs a rescan, and with
 * `checkpoints` (only the replay-lock holder writes them) retry checkpoints and checkpoint
 * writes a crash cut short.
 */
export async function removeOrphanSidecars(paths: LogPaths, opts: { checkpoints: boolean }): Promise<void> {
  const names = await fsp.readdir(paths.dir).catch(() => [] as string[])
  const live = new Set(names)
  for (const n of names) {
    const m = /^(.+)\.(state|meta)(\.tmp-\d+-\d+)?$/.exec(n)
    if (!m || (m[2] === 'state' ? !opts.checkpoints : m[3] !== undefined)) continue
    const ours = paths.retry.pattern.test(m[1]) || (m[2] === 'meta' && paths.permanent.pattern.test(m[1]))
    if (ours && (m[3] !== undefined || (!live.has(m[1]) && !live.has(`${m[1]}.gz`)))) await unlinkIfExists(path.join(paths.dir, n)).catch(() => {})
  }
}

/** `dir/base`, or `dir/base.1`, `dir/base.2`, …: the first name not taken, for a file set aside. */
export async function setAsideName(dir: string, base: string): Promise<string> {
  for (let i = 0; ; i++) {
    const p = path.join(dir, i === 0 ? base : `${base}.${i}`)
    try {
      await fsp.lstat(p)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return p
      throw ioError(`check ${p}`, err)
    }
  }
}

/**
 * Sealed segments of a family, oldest first (mtime, ties by owner then sequence). When both
 * `X` and `X.gz` exist (a crash between compressing and unlinking), only `X.gz` is listed.
 */
export async function listSegments(fam: SegmentFamily): Promise<SegmentInfo[]> {
  let names: string[]
  try {
    names = await fsp.readdir(fam.dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw ioError(`list ${fam.dir}`, err)
  }
  const matched = names.flatMap((n) => {
    const m = fam.pattern.exec(n)
    return m ? [{ full: path.join(fam.dir, n), m }] : []
  })
  // All at once: a listing is one round trip of I/O whatever the number of segments.
  const stats = await Promise.all(matched.map(({ full }) => fsp.lstat(full).catch(() => undefined)))
  const byKey = new Map<string, SegmentInfo>()
  for (const [i, { full, m }] of matched.entries()) {
    const st = stats[i]
    if (!st) continue // removed meanwhile
    if (!st.isFile()) continue // never follow a planted symlink or read a directory
    const gz = m[3] === '.gz'
    const key = gz ? full.slice(0, -3) : full
    const info: SegmentInfo = {
      path: full,
      key,
      owner: m[1] === 'r' ? 'replayer' : 'writer',
      seq: Number(m[2]),
      gz,
      size: st.size,
      mtimeMs: st.mtimeMs,
    }
    const prev = byKey.get(key)
    if (!prev || (gz && !prev.gz)) byKey.set(key, info)
  }
  return [...byKey.values()].sort(
    (a, b) => a.mtimeMs - b.mtimeMs || (a.owner === b.owner ? 0 : a.owner === 'writer' ? -1 : 1) || a.seq - b.seq,
  )
}

/** Highest sequence used in a namespace, counting compressed and in-compression files. */
export async function maxSeq(fam: SegmentFamily, owner: SegmentOwner): Promise<number> {
  const names = await fsp.readdir(fam.dir).catch(() => [] as string[])
  let max = 0
  const want = owner === 'replayer' ? 'r' : ''
  for (const n0 of names) {
    // A name that still has a checkpoint (even an orphaned one, or a temp left by a crash
    // while writing one) is never reused: a new segment under it would resume at the old offset.
    const n = n0.replace(/\.state(\.tmp-\d+-\d+)?$/, '')
    const m = fam.pattern.exec(n) ?? fam.tmpPattern.exec(n)
    if (m && m[1] === want) max = Math.max(max, Number(m[2]))
  }
  return max
}

/**
 * Make sure a file ends with a newline, so a torn last record (a crash mid-write) stays its
 * own line and the next record is not glued onto it. Returns true when one was added.
 */
export async function isolateTornTail(file: string): Promise<boolean> {
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(file, fs.constants.O_RDWR | fs.constants.O_APPEND | O_NOFOLLOW)
    const { size } = await fh.stat()
    if (size === 0) return false
    const last = Buffer.alloc(1)
    await fh.read(last, 0, 1, size - 1)
    if (last[0] === 0x0a) return false
    await fh.write('\n')
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw ioError(`check ${file}`, err)
  } finally {
    await fh?.close()
  }
}

/**
 * Seal the active file of a family by renaming it to the next writer sequence. Only called
 * by the owner of the active file (the writer, or a replayer holding the writer lock because
 * no writer is alive). Returns the sealed path, or null when there was nothing to seal.
 */
export async function sealActiveFile(fam: SegmentFamily, nextSeq: () => Promise<number>): Promise<string | null> {
  let st: fs.Stats
  try {
    st = await fsp.lstat(fam.active)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw ioError(`stat ${fam.active}`, err)
  }
  if (st.isDirectory()) throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${fam.active} is a directory, not a log file`)
  if (!st.isFile()) throw ioError(`seal ${fam.active}`, Object.assign(new Error('not a regular file'), { code: 'ELOOP' }))
  if (st.size === 0) return null
  await isolateTornTail(fam.active)
  const sealed = path.join(fam.dir, segmentName(fam, 'writer', await nextSeq()))
  try {
    await fsp.rename(fam.active, sealed)
  } catch (err) {
    throw ioError(`seal ${fam.active}`, err)
  }
  await fsyncDir(fam.dir)
  return sealed
}

/**
 * gzip a sealed segment without ever showing a partial `.gz` under its final name:
 * write `X.gz.tmp`, fsync, rename to `X.gz`, fsync the directory, then remove `X`.
 * A crash at any point leaves `X` (and maybe a stale tmp), or `X.gz` (and maybe `X`):
 * recoverSegments() resolves both to exactly one readable copy.
 */
export async function compressSegment(file: string, mode: number): Promise<string> {
  const tmp = `${file}.gz.tmp`
  const final = `${file}.gz`
  await unlinkIfExists(tmp)
  const src = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
  let out: fsp.FileHandle
  try {
    out = await fsp.open(tmp, CREATE_EXCL_FLAGS, mode)
  } catch (err) {
    // No room for the temp file (ENOSPC, EMFILE…): the source must not stay open behind us.
    await src.close().catch(() => {})
    throw ioError(`compress ${file}`, err)
  }
  const rs = src.createReadStream({ autoClose: false })
  const ws = out.createWriteStream({ autoClose: false })
  try {
    await pipeline(rs, zlib.createGzip(), ws)
    await out.sync()
  } catch (err) {
    rs.destroy()
    ws.destroy()
    await out.close().catch(() => {})
    await src.close().catch(() => {})
    await unlinkIfExists(tmp).catch(() => {})
    throw ioError(`compress ${file}`, err)
  }
  // A FileHandle stream with autoClose: false keeps a reference on its handle until it is
  // destroyed, and FileHandle.close() waits for that reference: without this, close() hangs.
  rs.destroy()
  ws.destroy()
  await out.close()
  await src.close()
  // A replayer may have finished and removed the source meanwhile; resurrecting it as .gz
  // would replay it twice.
  if (!fs.existsSync(file)) {
    await unlinkIfExists(tmp)
    return final
  }
  await fsp.rename(tmp, final)
  // …and it may have done so between the check above and the rename (removeSegment removes X
  // and then X.gz, so one of the two sides always sees the other's removal).
  if (!fs.existsSync(file)) {
    await unlinkIfExists(final)
    return final
  }
  await fsyncDir(path.dirname(file))
  await unlinkIfExists(file)
  await fsyncDir(path.dirname(file))
  return final
}

export interface RecoveryReport {
  removedTmp: string[]
  removedDuplicates: string[]
  uncompressed: string[]
}

/** Settle what a crash mid-compression left behind. Only the active family's owner calls this. */
export async function recoverSegments(fam: SegmentFamily): Promise<RecoveryReport> {
  const report: RecoveryReport = { removedTmp: [], removedDuplicates: [], uncompressed: [] }
  const names = await fsp.readdir(fam.dir).catch(() => [] as string[])
  const set = new Set(names)
  for (const n of names) {
    if (fam.tmpPattern.test(n)) {
      // The source is only removed after the tmp is renamed, so a tmp is never the only copy.
      await unlinkIfExists(path.join(fam.dir, n))
      report.removedTmp.push(n)
      continue
    }
    const m = fam.pattern.exec(n)
    if (!m) continue
    if (m[3] !== '.gz' && set.has(n + '.gz')) {
      await unlinkIfExists(path.join(fam.dir, n))
      report.removedDuplicates.push(n)
    } else if (m[3] !== '.gz' && m[1] === '') {
      report.uncompressed.push(path.join(fam.dir, n))
    }
  }
  return report
}

/**
 * Count the newline-terminated lines of a segment (for eviction events), streaming through the
 * line reader: long lines stream past (counted, never held), and a corrupt .gz, still evicted,
 * counts what could be read.
 */
export async function countLines(seg: { path: string; gz: boolean }): Promise<number> {
  let n = 0
  const count = () => void n++
  const handler: LineHandler = { line: (_b, _s, _e, _o, _n, torn) => (torn ? undefined : count()), oversized: count }
  await readLines(seg.path, seg.gz, 0, 64 * 1024, handler, () => false).catch(() => {})
  return n
}
