/**
 * Output marks: the sizes a replay's checkpoints recorded for the files it was appending to.
 * Bytes past a mark belong to items the checkpoint does not cover, which the next replay
 * redoes, so recovery cuts them off. Both recovery and the rewrite's naming of new segments
 * need the same scan over every retry segment's checkpoint.
 */
import path from 'node:path'
import { readCheckpoint, writeCheckpoint } from './checkpoint.js'
import { type LogPaths, listSegments, statePathOf } from './segments.js'

/** file name → the size recorded by the newest checkpoint that names it. */
export type OutputMarks = Map<string, { size: number; at: number }>

export async function readOutputMarks(paths: LogPaths): Promise<OutputMarks> {
  const marks: OutputMarks = new Map()
  for (const seg of await listSegments(paths.retry)) {
    const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
    if (cp.status !== 'ok') continue
    for (const m of cp.checkpoint.outputs ?? []) {
      const prev = marks.get(m.file)
      if (!prev || prev.at < cp.checkpoint.updatedAt) marks.set(m.file, { size: m.size, at: cp.checkpoint.updatedAt })
    }
  }
  return marks
}

/**
 * The highest replayer sequence named by any mark, per family. A file created under a name
 * a stale mark still references (its original since deleted) would be cut by it.
 */
export function markedSeqs(paths: LogPaths, marks: OutputMarks): { retry: number; permanent: number } {
  const out = { retry: 0, permanent: 0 }
  for (const file of marks.keys()) {
    for (const key of ['retry', 'permanent'] as const) {
      const hit = paths[key].pattern.exec(file)
      if (hit && hit[1] === 'r') out[key] = Math.max(out[key], Number(hit[2]))
    }
  }
  return out
}

/** A mark is only valid for the run that wrote it: once applied, it is dropped from every checkpoint. */
export async function dropOutputMarks(paths: LogPaths, mode: number): Promise<void> {
  for (const seg of await listSegments(paths.retry)) {
    const cp = await readCheckpoint(statePathOf(seg), path.basename(seg.key))
    if (cp.status === 'ok' && cp.checkpoint.outputs) {
      const { outputs: _dropped, ...rest } = cp.checkpoint
      await writeCheckpoint(statePathOf(seg), rest, mode)
    }
  }
}
