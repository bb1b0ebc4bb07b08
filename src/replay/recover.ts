/**
 * Crash recovery of the replayer's own files, run under the replay lock before sealing: cut
 * output files back to what the newest checkpoint naming them covers, drop torn tails, and
 * remove state left behind by a segment that is gone.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { readCheckpoint, writeCheckpoint } from '../checkpoint.js'
import { truncateTornTail } from '../outputs.js'
import { type LogPaths, listSegments, statePathOf } from '../segments.js'

export async function recoverOwnFiles(paths: LogPaths, mode: number): Promise<void> {
  await cutOutputsToMarks(paths, mode)
  for (const fam of [paths.retry, paths.permanent]) {
    for (const seg of await listSegments(fam)) {
      if (seg.owner !== 'replayer' || seg.gz) continue
      truncateTornTail(seg.path)
      if ((await fsp.stat(seg.path)).size === 0) await fsp.unlink(seg.path).catch(() => {})
    }
  }
  truncateTornTail(paths.corrupt)
  await removeOrphanedState(paths)
}

/** Each output file back to the size recorded by the newest checkpoint that names it. */
async function cutOutputsToMarks(paths: LogPaths, mode: number): Promise<void> {
  const marks = new Map<string, { size: number; at: number }>()
  for (const seg of await listSegments(paths.retry)) {
    const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
    if (cp.status !== 'ok') continue
    for (const m of cp.checkpoint.outputs ?? []) {
      const prev = marks.get(m.file)
      if (!prev || prev.at < cp.checkpoint.updatedAt) marks.set(m.file, { size: m.size, at: cp.checkpoint.updatedAt })
    }
  }
  for (const [file, { size }] of marks) {
    const full = path.join(paths.dir, file)
    const isOurs =
      file === path.basename(paths.corrupt) ||
      [paths.retry, paths.permanent].some((fam) => fam.pattern.exec(file)?.[1] === 'r' && !file.endsWith('.gz'))
    if (!isOurs) continue
    const st = await fsp.lstat(full).catch(() => undefined)
    if (st?.isFile() && st.size > size) await fsp.truncate(full, size)
  }
  // A mark is only valid for the run that wrote it: once applied, drop it, so it can never
  // cut a file that a later run created under the same name, or the shared corrupt log.
  if (marks.size === 0) return
  for (const seg of await listSegments(paths.retry)) {
    const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
    if (cp.status === 'ok' && cp.checkpoint.outputs) {
      const { outputs: _dropped, ...rest } = cp.checkpoint
      await writeCheckpoint(statePathOf(seg), rest, mode)
    }
  }
}

/** State and metadata files whose segment is gone (a crash between removing them). */
async function removeOrphanedState(paths: LogPaths): Promise<void> {
  const names = await fsp.readdir(paths.dir)
  const live = new Set(names)
  for (const n of names) {
    // A checkpoint write cut short by a crash; only replay-lock holders write state files.
    const tmp = /^(.+)\.state\.tmp-\d+-\d+$/.exec(n)
    if (tmp && paths.retry.pattern.test(tmp[1])) await fsp.unlink(path.join(paths.dir, n)).catch(() => {})
    const side = /^(.+)\.(state|meta)$/.exec(n)
    if (!side || !paths.retry.pattern.test(side[1])) continue
    const seg = side[1]
    if (!live.has(seg) && !live.has(seg + '.gz')) await fsp.unlink(path.join(paths.dir, n)).catch(() => {})
  }
}
