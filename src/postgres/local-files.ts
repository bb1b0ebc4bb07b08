/**
 * What the shipper needs from the local log's files, in one place: where a local replay
 * left off in a retry segment (its checkpoint), and removing a shipped file together with
 * its compressed twin, its checkpoint and its count sidecar.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { readCheckpoint, removeCheckpoint } from '../store/checkpoint.js'
import { ioError } from '../base/errors.js'
import { fsyncDir } from '../base/fs-safe.js'
import { removeSegmentMeta } from '../store/counts/segment-meta.js'
import { type SegmentInfo, statePathOf } from '../store/segments.js'

/** Bytes of a retry segment a local replay already accounted for (0 when none or unreadable). */
export async function replayedUpTo(seg: SegmentInfo): Promise<number> {
  const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
  return cp.status === 'ok' ? cp.checkpoint.offset : 0
}

async function unlinkQuiet(file: string): Promise<void> {
  try {
    await fsp.unlink(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`remove shipped ${file}`, err)
  }
}

/**
 * Remove a shipped segment: the plain file first, then `.gz` — the order the writer's
 * compressor checks, so a compression racing us never resurrects the segment — then its
 * checkpoint, so a later segment of the same name cannot resume at a stale offset.
 */
export async function removeShipped(seg: { key: string; path: string }): Promise<void> {
  await unlinkQuiet(seg.key)
  await unlinkQuiet(`${seg.key}.gz`)
  if (seg.path !== seg.key && seg.path !== `${seg.key}.gz`) await unlinkQuiet(seg.path)
  await removeCheckpoint(statePathOf(seg.key))
  await removeSegmentMeta(seg.key)
  await fsyncDir(path.dirname(seg.key))
}

/** A free name for a file set aside next to `file`: `<dir>/<prefix><base>`, suffixed when taken. */
export async function asideName(dir: string, base: string): Promise<string> {
  for (let i = 0; ; i++) {
    const p = path.join(dir, i === 0 ? base : `${base}.${i}`)
    try {
      await fsp.lstat(p)
    } catch {
      return p
    }
  }
}
