/**
 * Replay checkpoints: one small state file per segment holding the byte offset (in the
 * uncompressed stream) up to which every item is accounted for, plus a CRC so a torn or
 * hand-edited file is detected. Written atomically (temp, fsync, rename, fsync dir), so a
 * crash leaves the old checkpoint or the new one.
 */
import { crc32 } from './crc32.js'
import { readSmallFile, unlinkIfExists, writeFileAtomic } from './fs-safe.js'
import { ioError } from './errors.js'

export interface Checkpoint {
  /** Name of the segment (without .gz) this state belongs to. */
  segment: string
  /** Bytes of the uncompressed segment fully accounted for; always at a line boundary. */
  offset: number
  /** Items accounted for up to `offset` (informational). */
  items: number
  updatedAt: number
  /**
   * Sizes of the replayer's output files when this checkpoint was taken. Bytes past them
   * belong to items after the checkpoint, which a resumed replay redoes, so recovery cuts
   * them off instead of leaving a duplicate re-log behind.
   */
  outputs?: OutputMark[]
}

export interface OutputMark {
  /** File name (same directory as the segment). */
  file: string
  size: number
}

const VERSION = 1

function crcOf(body: string): number {
  return crc32(body)
}

export function encodeCheckpoint(cp: Checkpoint): string {
  const body = JSON.stringify({
    v: VERSION,
    segment: cp.segment,
    offset: cp.offset,
    items: cp.items,
    updatedAt: cp.updatedAt,
    ...(cp.outputs ? { outputs: cp.outputs } : {}),
  })
  return JSON.stringify({ body, crc: crcOf(body) }) + '\n'
}

export type CheckpointRead =
  | { status: 'none' }
  | { status: 'ok'; checkpoint: Checkpoint }
  | { status: 'corrupt'; reason: string }

export function decodeCheckpoint(text: string, segment: string): CheckpointRead {
  try {
    const outer = JSON.parse(text) as { body?: unknown; crc?: unknown }
    if (typeof outer.body !== 'string' || typeof outer.crc !== 'number') return { status: 'corrupt', reason: 'bad structure' }
    if (crcOf(outer.body) !== outer.crc) return { status: 'corrupt', reason: 'checksum mismatch' }
    const b = JSON.parse(outer.body) as Record<string, unknown>
    if (b.v !== VERSION) return { status: 'corrupt', reason: `unknown version ${String(b.v)}` }
    if (typeof b.offset !== 'number' || !Number.isSafeInteger(b.offset) || b.offset < 0) {
      return { status: 'corrupt', reason: 'bad offset' }
    }
    if (b.segment !== segment) return { status: 'corrupt', reason: `belongs to ${String(b.segment)}` }
    return {
      status: 'ok',
      checkpoint: {
        segment,
        offset: b.offset,
        items: typeof b.items === 'number' ? b.items : 0,
        updatedAt: typeof b.updatedAt === 'number' ? b.updatedAt : 0,
        ...(Array.isArray(b.outputs) ? { outputs: (b.outputs as OutputMark[]).filter(isMark) } : {}),
      },
    }
  } catch (err) {
    return { status: 'corrupt', reason: (err as Error).message }
  }
}

export async function readCheckpoint(file: string, segment: string): Promise<CheckpointRead> {
  let text: string | undefined
  try {
    text = await readSmallFile(file)
  } catch (err) {
    return { status: 'corrupt', reason: (err as Error).message }
  }
  if (text === undefined) return { status: 'none' }
  return decodeCheckpoint(text, segment)
}

export function writeCheckpoint(file: string, cp: Checkpoint, mode: number): Promise<void> {
  return writeFileAtomic(file, encodeCheckpoint(cp), mode).catch((err) => Promise.reject(ioError(`write checkpoint ${file}`, err)))
}

export async function removeCheckpoint(file: string): Promise<void> {
  await unlinkIfExists(file)
}

function isMark(m: unknown): m is OutputMark {
  const x = m as OutputMark
  return !!x && typeof x.file === 'string' && !x.file.includes('/') && Number.isSafeInteger(x.size) && x.size >= 0
}
