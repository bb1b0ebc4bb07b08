/**
 * Crash recovery of everything a replay-lock holder (a replay, a requeue, a purge) writes.
 * Every entry point runs `recoverLog` right after taking the replay lock and before reading
 * or writing a segment, so a log is settled the same way whichever process comes next:
 *
 *   1. an interrupted requeue/purge is rolled back (journal "moving") or finished ("committed");
 *   2. replayer-owned outputs are cut back to the sizes their newest checkpoint recorded, and
 *      those marks are dropped;
 *   3. a partial last line of a replayer-owned segment or of the corrupt log is cut off;
 *   4. checkpoint files whose segment is gone, and checkpoint temp files, are removed;
 *   5. so are the temp files of seal requests and answers whose writer was killed.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { fsyncDir, unlinkIfExists } from '../base/fs-safe.js'
import { truncateTornTail } from './outputs.js'
import { type LogPaths, listSegments, removeOrphanSidecars, removeSegment } from './segments.js'
import { publishOutputs } from './commit.js'
import { readJournal, rewritePaths } from './journal.js'
import { truncateSideLog } from './side-log.js'
import { dropOutputMarks, readOutputMarks } from './marks.js'
import { removeAbandonedTemps } from './seal-request.js'

export interface RecoveryReport {
  /** What happened to an interrupted requeue/purge, in words; undefined when there was none. */
  rewrite?: string
}

/** Must run under the replay lock. `mode` is used for the checkpoint files it rewrites. */
export async function recoverLog(paths: LogPaths, mode: number): Promise<RecoveryReport> {
  const rewrite = await recoverRewrite(paths)
  await cutToOutputMarks(paths, mode)
  await trimOwnSegments(paths)
  await removeOrphanSidecars(paths, { checkpoints: true })
  await removeAbandonedTemps(paths)
  return rewrite === undefined ? {} : { rewrite }
}

/** Settle what an interrupted rewrite left behind. Returns a line for the user, or undefined. */
export async function recoverRewrite(paths: LogPaths): Promise<string | undefined> {
  const rp = rewritePaths(paths)
  const read = await readJournal(paths)
  // The corrupt-log rewrite is a single atomic rename; a left-over temp file is never the only copy.
  await unlinkIfExists(rp.corruptTmp)
  if (read.status === 'none') {
    // Temp files are renamed before the journal goes, so without a journal they are partial.
    await unlinkIfExists(rp.retryTmp)
    await unlinkIfExists(rp.permanentTmp)
    return undefined
  }
  const j = read.status === 'ok' ? read.journal : undefined
  if (!j || j.state === 'moving' || !paths.permanent.pattern.test(path.basename(j.source))) {
    // Not committed: the source still holds every entry; drop the partial outputs.
    await unlinkIfExists(rp.retryTmp)
    await unlinkIfExists(rp.permanentTmp)
    await fsyncDir(paths.dir)
    // Only a plain name in the log's directory: a journal never points the cut anywhere else.
    if (j?.side && path.basename(j.side.file) === j.side.file && Number.isSafeInteger(j.side.size)) await truncateSideLog(paths.dir, j.side)
    await unlinkIfExists(rp.journal)
    return j ? `rolled back an interrupted ${j.op} of ${j.source} (it is unchanged)` : 'removed an unreadable rewrite journal and its partial outputs'
  }
  await publishOutputs(paths, rp)
  const key = path.join(paths.dir, path.basename(j.source))
  await removeSegment({ key, path: key })
  await unlinkIfExists(rp.journal)
  return `finished an interrupted ${j.op} of ${j.source}`
}

/** Cut each replayer output back to the size recorded by the newest checkpoint naming it. */
async function cutToOutputMarks(paths: LogPaths, mode: number): Promise<void> {
  const marks = await readOutputMarks(paths)
  if (marks.size === 0) return
  for (const [file, { size }] of marks) {
    const isOurs =
      file === path.basename(paths.corrupt) ||
      [paths.retry, paths.permanent].some((fam) => fam.pattern.exec(file)?.[1] === 'r' && !file.endsWith('.gz'))
    if (!isOurs) continue
    const full = path.join(paths.dir, file)
    const st = await fsp.lstat(full).catch(() => undefined)
    if (st?.isFile() && st.size > size) await fsp.truncate(full, size)
  }
  // Dropped once applied, so a mark can never cut a file a later run creates under the same name.
  await dropOutputMarks(paths, mode)
}

/**
 * A crash while a replayer was appending can leave a partial last line in its own segments;
 * the item behind it was never checkpointed and is redone, so the fragment is cut off (and a
 * rewrite never copies a torn line into a new segment).
 */
export async function trimOwnSegments(paths: LogPaths): Promise<void> {
  for (const fam of [paths.retry, paths.permanent]) {
    for (const seg of await listSegments(fam)) {
      if (seg.owner !== 'replayer' || seg.gz) continue
      truncateTornTail(seg.path)
      const st = await fsp.stat(seg.path).catch(() => undefined)
      if (st && st.size === 0) await removeSegment(seg)
    }
  }
  truncateTornTail(paths.corrupt)
}
