/** What the shipper needs from the local log's files: where a local replay left off in a retry segment. */
import path from 'node:path'
import { readCheckpoint } from '../store/checkpoint.js'
import { type SegmentInfo, statePathOf } from '../store/segments.js'

/** Bytes of a retry segment a local replay already accounted for (0 when none or unreadable). */
export async function replayedUpTo(seg: SegmentInfo): Promise<number> {
  const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
  return cp.status === 'ok' ? cp.checkpoint.offset : 0
}
