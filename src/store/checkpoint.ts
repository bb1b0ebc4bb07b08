/**
 * Replay checkpoints: one small state file per segment holding the byte offset (in the
 * uncompressed stream) up to which every item is accounted for.
 *
 * The file has two fixed-size slots (A at 0, B at `slot`), each `magic, length, crc32, body`.
 * A checkpoint goes into the slot the previous one did not use, with one small positional
 * write; a reader takes the valid slot with the higher sequence number. A write torn by a
 * crash fails its CRC and leaves the other slot, the previous checkpoint, in force. The file
 * itself is created once per segment (temp, fsync, rename, fsync of the directory).
 *
 * The slot writes are not fsynced: after a power loss a checkpoint may be older than the
 * last one written, so more items are redone (duplicates). It can never be newer than the
 * outputs it covers, because those are fsynced before each slot write: never a lost item.
 *
 * The older format (one JSON line `{"body": …, "crc": …}`, written by temp+rename) is still
 * read, so state files of an earlier version resume where they stopped.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { crc32 } from '../base/crc32.js'
import { O_NOFOLLOW, writeFileAtomic } from '../base/fs-safe.js'
import { ioError } from '../base/errors.js'

export interface Checkpoint {
  /** Name of the segment (without .gz) this state belongs to. */
  segment: string
  /** Bytes of the uncompressed segment fully accounted for; always at a line boundary. */
  offset: number
  /** Items accounted for up to `offset`. */
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

export type CheckpointRead =
  | { status: 'none' }
  | { status: 'ok'; checkpoint: Checkpoint }
  | { status: 'corrupt'; reason: string }

const VERSION = 1
const MAGIC = 0x50434c44 // "DLCP" little-endian
const SLOT_HEAD = 12
const MIN_SLOT = 4096
const MAX_FILE = 1024 * 1024

// ------------------------------------------------------------------ legacy text format

/** The one-line text format of earlier versions (still read; tests and tools write it). */
export function encodeCheckpoint(cp: Checkpoint): string {
  const body = bodyOf(cp)
  return JSON.stringify({ body, crc: crc32(body) }) + '\n'
}

/** Either format: the text of an earlier version, or the bytes of a slot file. */
export function decodeCheckpoint(data: string | Buffer, segment: string): CheckpointRead {
  if (typeof data !== 'string') return decodeAny(data, segment).read
  const text = data
  try {
    const outer = JSON.parse(text) as { body?: unknown; crc?: unknown }
    if (typeof outer.body !== 'string' || typeof outer.crc !== 'number') return { status: 'corrupt', reason: 'bad structure' }
    if (crc32(outer.body) !== outer.crc) return { status: 'corrupt', reason: 'checksum mismatch' }
    return validate(JSON.parse(outer.body) as Record<string, unknown>, segment)
  } catch (err) {
    return { status: 'corrupt', reason: (err as Error).message }
  }
}

function bodyOf(cp: Checkpoint, seq?: number): string {
  return JSON.stringify({
    v: VERSION,
    ...(seq !== undefined ? { seq } : {}),
    segment: cp.segment,
    offset: cp.offset,
    items: cp.items,
    updatedAt: cp.updatedAt,
    ...(cp.outputs ? { outputs: cp.outputs } : {}),
  })
}

function validate(b: Record<string, unknown>, segment: string): CheckpointRead {
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
}

// ------------------------------------------------------------------ slot format

function encodeSlot(cp: Checkpoint, seq: number, slot: number): Buffer | undefined {
  const body = Buffer.from(bodyOf(cp, seq))
  if (SLOT_HEAD + body.length > slot) return undefined
  const buf = Buffer.alloc(SLOT_HEAD + body.length)
  buf.writeUInt32LE(MAGIC, 0)
  buf.writeUInt32LE(body.length, 4)
  buf.writeUInt32LE(crc32(body), 8)
  body.copy(buf, SLOT_HEAD)
  return buf
}

interface SlotRead {
  seq: number
  read: CheckpointRead
}

function decodeSlot(buf: Buffer, segment: string): SlotRead | undefined {
  if (buf.length < SLOT_HEAD || buf.readUInt32LE(0) !== MAGIC) return undefined
  const len = buf.readUInt32LE(4)
  if (SLOT_HEAD + len > buf.length) return undefined
  const body = buf.subarray(SLOT_HEAD, SLOT_HEAD + len)
  if (crc32(body) !== buf.readUInt32LE(8)) return undefined
  try {
    const b = JSON.parse(body.toString('utf8')) as Record<string, unknown>
    if (typeof b.seq !== 'number') return undefined
    return { seq: b.seq, read: validate(b, segment) }
  } catch {
    return undefined
  }
}

/** The newest valid slot of a slot-format file; `seq` is needed to continue writing it. */
function decodeSlots(buf: Buffer, segment: string): { read: CheckpointRead; seq: number; slot: number } {
  const slot = buf.length / 2
  if (buf.length < 2 * MIN_SLOT || !Number.isInteger(slot)) return { read: { status: 'corrupt', reason: 'bad size' }, seq: 0, slot: 0 }
  const a = decodeSlot(buf.subarray(0, slot), segment)
  const b = decodeSlot(buf.subarray(slot), segment)
  const best = a && b ? (a.seq >= b.seq ? a : b) : (a ?? b)
  if (!best) return { read: { status: 'corrupt', reason: 'no valid slot' }, seq: 0, slot }
  return { read: best.read, seq: best.seq, slot }
}

async function readRaw(file: string): Promise<Buffer | undefined> {
  let fh: fsp.FileHandle | undefined
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW)
    const st = await fh.stat()
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' })
    if (st.size > MAX_FILE) throw new Error('state file too large')
    return await fh.readFile()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw ioError(`read ${file}`, err)
  } finally {
    await fh?.close()
  }
}

function decodeAny(buf: Buffer, segment: string): { read: CheckpointRead; seq: number; slot: number } {
  // The text format starts with `{`; a slot file with its magic number.
  if (buf.length > 0 && buf[0] === 0x7b) return { read: decodeCheckpoint(buf.toString('utf8'), segment), seq: 0, slot: 0 }
  return decodeSlots(buf, segment)
}

export async function readCheckpoint(file: string, segment: string): Promise<CheckpointRead> {
  const buf = await readRaw(file).catch((err: Error) => err)
  if (buf instanceof Error) return { status: 'corrupt', reason: buf.message }
  if (buf === undefined) return { status: 'none' }
  return decodeAny(buf, segment).read
}

function fileBytes(cp: Checkpoint, seq: number): Buffer {
  let slot = MIN_SLOT
  let enc = encodeSlot(cp, seq, slot)
  while (enc === undefined) {
    slot *= 2
    if (2 * slot > MAX_FILE) throw new Error('checkpoint too large')
    enc = encodeSlot(cp, seq, slot)
  }
  // Slot by parity of the sequence, as write() places them: the next write never hits this one.
  const buf = Buffer.alloc(2 * slot)
  enc.copy(buf, (seq % 2) * slot)
  return buf
}

/** A whole new state file holding `cp`, replaced atomically (temp, fsync, rename, fsync dir). */
export function writeCheckpoint(file: string, cp: Checkpoint, mode: number): Promise<void> {
  return Promise.resolve()
    .then(() => writeFileAtomic(file, fileBytes(cp, 1), mode))
    .catch((err) => Promise.reject(ioError(`write checkpoint ${file}`, err)))
}

/**
 * The state file of the segment being replayed, open for in-place slot writes. `open()`
 * creates it atomically (holding `first`) unless a slot file is already there, in which case
 * `first` goes into its free slot.
 */
export class CheckpointWriter {
  private constructor(
    readonly file: string,
    private fd: number | undefined,
    private seq: number,
    private slot: number,
    private readonly mode: number,
  ) {}

  static async open(file: string, first: Checkpoint, mode: number): Promise<CheckpointWriter> {
    let existing: { read: CheckpointRead; seq: number; slot: number } | undefined
    try {
      const buf = await readRaw(file)
      if (buf !== undefined && buf[0] !== 0x7b) existing = decodeSlots(buf, first.segment)
    } catch {}
    if (existing?.read.status === 'ok') {
      const w = new CheckpointWriter(file, openRw(file), existing.seq, existing.slot, mode)
      w.write(first)
      return w
    }
    await writeCheckpoint(file, first, mode)
    const slot = fileBytes(first, 1).length / 2
    return new CheckpointWriter(file, openRw(file), 1, slot, mode)
  }

  /** One positional write into the slot not holding the newest checkpoint; no fsync. */
  write(cp: Checkpoint): void | Promise<void> {
    const seq = this.seq + 1
    const enc = encodeSlot(cp, seq, this.slot)
    if (enc === undefined || this.fd === undefined) return this.rewrite(cp)
    try {
      fs.writeSync(this.fd, enc, 0, enc.length, (seq % 2) * this.slot)
    } catch (err) {
      throw ioError(`write checkpoint ${this.file}`, err)
    }
    this.seq = seq
  }

  /** A checkpoint too large for the slots: a new file with larger ones. */
  private async rewrite(cp: Checkpoint): Promise<void> {
    this.close()
    const bytes = fileBytes(cp, this.seq + 1)
    await writeFileAtomic(this.file, bytes, this.mode).catch((err) => Promise.reject(ioError(`write checkpoint ${this.file}`, err)))
    this.seq++
    this.slot = bytes.length / 2
    this.fd = openRw(this.file)
  }

  close(): void {
    if (this.fd === undefined) return
    try {
      fs.closeSync(this.fd)
    } catch {}
    this.fd = undefined
  }
}

function openRw(file: string): number {
  try {
    return fs.openSync(file, fs.constants.O_RDWR | O_NOFOLLOW)
  } catch (err) {
    throw ioError(`open checkpoint ${file}`, err)
  }
}

function isMark(m: unknown): m is OutputMark {
  const x = m as OutputMark
  return !!x && typeof x.file === 'string' && !x.file.includes('/') && Number.isSafeInteger(x.size) && x.size >= 0
}
