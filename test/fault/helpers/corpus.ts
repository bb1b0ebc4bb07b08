/**
 * Generates damaged segments for the corruption fuzz: each case is one segment (plain or
 * gzip, writer- or replayer-named) mixing intact envelopes with every kind of bad line, and
 * maybe a damaged state file. It records where each line starts so the checker knows what
 * must be delivered and what must be quarantined where.
 */
import zlib from 'node:zlib'
import { encodeCheckpoint } from '../../../src/store/checkpoint.js'
import type { Rng } from '../../helpers/rng.js'

export const MAX_RECORD = 4096

export type Container = 'plain' | 'gz' | 'gz-truncated' | 'gz-bad-header' | 'gz-bad-middle' | 'gz-bad-trailer'
export type StateKind = 'none' | 'garbage' | 'truncated' | 'bad-crc' | 'other-segment' | 'past-end' | 'mid-line' | 'empty'

export interface LineInfo {
  offset: number
  /** Offset of the byte after the line's newline (or end of data for a last line without one). */
  end: number
  /** Set for an intact envelope: its id. */
  id?: string
  kind: string
  hasNewline: boolean
}

export interface Case {
  /** File name as written (with .gz when compressed). */
  file: string
  /** Segment name used in checkpoints and quarantine records (without .gz). */
  segment: string
  owner: 'writer' | 'replayer'
  container: Container
  state: StateKind
  data: Buffer
  lines: LineInfo[]
  /** File bytes (compressed and damaged as the container says). */
  bytes: Buffer
  stateText?: string
  /** For a truncated gzip: the uncompressed bytes a forgiving decoder still recovers. */
  recoverable?: number
}

const REASONS = [null, 'timeout', 'ECONNRESET', 'ünïcødé ✓ 🚀', 'quote " and \\ backslash', 'tab\there', '']
const BAD_UTF8 = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]
const NOT_OBJECT = ['[]', 'null', '"just a string"', '42', 'true', '[{"ts":1}]']

function payloadOf(rng: Rng, n: number): unknown {
  switch (rng.int(0, 6)) {
    case 0:
      return n
    case 1:
      return `text ${n} with "quotes", \\slashes\\, a \n newline and ,"payload": inside`
    case 2:
      return { order: n, items: [1, 2, { deep: [null, true, 'x'] }], note: 'é😀' }
    case 3:
      return [n, 'a', { b: null }]
    case 4:
      return null
    case 5:
      return rng.chance(0.5)
    default:
      return { n, s: 'x'.repeat(rng.int(0, 300)) }
  }
}

function envelopeText(rng: Rng, id: string, n: number): string {
  const env: Record<string, unknown> = { ts: rng.int(1, 2_000_000_000_000), attempt: rng.int(1, 5), reason: rng.pick(REASONS) }
  if (rng.chance(0.7)) env.id = id
  if (rng.chance(0.3)) env.firstTs = rng.int(1, 1_000_000)
  if (rng.chance(0.2)) env.dueTs = rng.int(1, 1_000_000) // in the past: due now
  if (rng.chance(0.2)) env.errorName = 'TypeError'
  env.payload = payloadOf(rng, n)
  // Without an id field the checker finds the envelope by its payload marker.
  if (env.id === undefined) env.payload = { marker: id, inner: env.payload }
  return JSON.stringify(env)
}

/** The id an intact envelope is known by: its id field, or the marker in its payload. */
export function idOf(env: { id?: string; payload: unknown }): string | undefined {
  if (env.id !== undefined) return env.id
  const p = env.payload as { marker?: string } | null
  return p && typeof p === 'object' ? p.marker : undefined
}

const INVALID_MUTATIONS: Array<(o: Record<string, unknown>) => void> = [
  (o) => delete o.ts,
  (o) => (o.ts = 'yesterday'),
  (o) => delete o.attempt,
  (o) => (o.attempt = -1),
  (o) => (o.attempt = 1.5),
  (o) => (o.attempt = '2'),
  (o) => delete o.reason,
  (o) => (o.reason = 42),
  (o) => delete o.payload,
  (o) => (o.id = 7),
  (o) => (o.firstTs = 'soon'),
  (o) => (o.dueTs = {}),
  (o) => (o.final = 'bogus'),
]

function noNewline(b: Buffer): Buffer {
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a) b[i] = 0x20
  return b
}

/** One line's bytes (without its newline) and whether it is an intact envelope. */
function makeLine(rng: Rng, id: string, n: number): { bytes: Buffer; kind: string; good: boolean } {
  const r = rng.next()
  if (r < 0.45) {
    let t = envelopeText(rng, id, n)
    if (rng.chance(0.1)) t = '  ' + t + ' '
    return { bytes: Buffer.from(t), kind: 'valid', good: true }
  }
  if (r < 0.5) {
    // An intact envelope exactly at the size limit.
    const base = envelopeText(rng, id, n)
    const obj = JSON.parse(base)
    obj.payload = { marker: id, pad: '' }
    delete obj.id
    const without = Buffer.byteLength(JSON.stringify(obj))
    obj.payload.pad = 'p'.repeat(Math.max(0, MAX_RECORD - without))
    return { bytes: Buffer.from(JSON.stringify(obj)), kind: 'at-limit', good: Buffer.byteLength(JSON.stringify(obj)) <= MAX_RECORD }
  }
  const kinds = ['truncated', 'random', 'nul', 'badutf8', 'missing', 'notobject', 'empty', 'huge', 'whitespace', 'nul-tail']
  const kind = rng.pick(kinds)
  switch (kind) {
    case 'truncated': {
      const t = envelopeText(rng, id, n)
      return { bytes: Buffer.from(t.slice(0, rng.int(1, t.length - 1))), kind, good: false }
    }
    case 'random':
      return { bytes: noNewline(rng.bytes(rng.int(1, 200))), kind, good: false }
    case 'nul':
      return { bytes: Buffer.alloc(rng.int(1, 400)), kind, good: false }
    case 'nul-tail': {
      const t = Buffer.from(envelopeText(rng, id, n))
      const cut = rng.int(1, t.length - 1)
      return { bytes: Buffer.concat([t.subarray(0, cut), Buffer.alloc(rng.int(1, 64))]), kind, good: false }
    }
    case 'badutf8': {
      const t = Buffer.from(envelopeText(rng, id, n))
      const at = t.indexOf('"reason":') + 9
      const bad = Buffer.from(rng.pick(BAD_UTF8))
      // Inside a JSON string so that the only fault is the encoding.
      const patched = Buffer.concat([t.subarray(0, at), Buffer.from('"'), bad, Buffer.from('",'), Buffer.from('"r2":'), t.subarray(at)])
      return { bytes: patched, kind, good: false }
    }
    case 'missing': {
      const o = JSON.parse(envelopeText(rng, id, n))
      rng.pick(INVALID_MUTATIONS)(o)
      return { bytes: Buffer.from(JSON.stringify(o)), kind, good: false }
    }
    case 'notobject':
      return { bytes: Buffer.from(rng.pick(NOT_OBJECT)), kind, good: false }
    case 'empty':
      return { bytes: Buffer.alloc(0), kind, good: false }
    case 'whitespace':
      return { bytes: Buffer.from(' \t '), kind, good: false }
    default: {
      // Over maxRecordSize: quarantined whether or not it would parse.
      const size = rng.chance(0.05) ? rng.int(70_000, 150_000) : rng.int(MAX_RECORD + 1, 20_000)
      const t = envelopeText(rng, id, n)
      const o = JSON.parse(t)
      o.payload = { big: 'b'.repeat(size) }
      return { bytes: Buffer.from(JSON.stringify(o)), kind: 'huge', good: false }
    }
  }
}

function pad(n: number): string {
  return String(n).padStart(12, '0')
}

export function segmentFileName(base: string, owner: 'writer' | 'replayer', seq: number): string {
  return `${base}.${owner === 'replayer' ? 'r' : ''}${pad(seq)}.log`
}

/** Plain content for a segment: lines, their offsets, and which are intact. */
export function makeContent(rng: Rng, caseNo: number, opts: { big?: boolean } = {}): { data: Buffer; lines: LineInfo[] } {
  const count = opts.big ? rng.int(400, 700) : rng.int(0, 14)
  const parts: Buffer[] = []
  const lines: LineInfo[] = []
  let offset = 0
  for (let k = 0; k < count; k++) {
    const id = `c${caseNo}-${k}`
    const l = opts.big && k % 3 === 0 ? { bytes: Buffer.from(envelopeText(rng, id, k) + ' '.repeat(rng.int(1000, 3000))), kind: 'valid', good: true } : makeLine(rng, id, k)
    const last = k === count - 1
    const withNewline = !last || rng.chance(0.7)
    // (At the size limit a CR would be one byte too many: such a line is over the limit.)
    const crlf = withNewline && l.kind !== 'at-limit' && rng.chance(0.1)
    const bytes = Buffer.concat([l.bytes, Buffer.from(withNewline ? (crlf ? '\r\n' : '\n') : '')])
    // A line without a newline at the end of the file, if empty, is no line at all.
    if (bytes.length === 0) continue
    parts.push(bytes)
    lines.push({ offset, end: offset + bytes.length, kind: l.kind, hasNewline: withNewline, ...(l.good ? { id: idOf(JSON.parse(l.bytes.toString())) } : {}) })
    offset += bytes.length
  }
  return { data: Buffer.concat(parts), lines }
}

export function makeCase(rng: Rng, caseNo: number, base: string, owner: 'writer' | 'replayer', seq: number): Case {
  const big = rng.chance(0.01)
  const { data, lines } = makeContent(rng, caseNo, { big })
  const segment = segmentFileName(base, owner, seq)
  const r = rng.next()
  const container: Container =
    r < 0.55 ? 'plain' : r < 0.75 ? 'gz' : r < 0.85 ? 'gz-truncated' : r < 0.9 ? 'gz-bad-header' : r < 0.96 ? 'gz-bad-middle' : 'gz-bad-trailer'
  let bytes = data
  let recoverable: number | undefined
  if (container !== 'plain') {
    const gz = zlib.gzipSync(data)
    bytes = Buffer.from(gz)
    if (container === 'gz-truncated') {
      bytes = bytes.subarray(0, rng.int(1, gz.length - 1))
      try {
        recoverable = zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).length
      } catch {
        recoverable = 0
      }
    } else if (container === 'gz-bad-header') {
      bytes[rng.int(0, 1)] ^= 0xff
    } else if (container === 'gz-bad-middle') {
      const at = rng.int(10, Math.max(10, gz.length - 9))
      bytes[Math.min(at, gz.length - 1)] ^= rng.int(1, 255)
    } else if (container === 'gz-bad-trailer') {
      bytes[gz.length - rng.int(1, 8)] ^= rng.int(1, 255)
    }
  }
  // A flip in padding bits, or in a header field nobody checks, damages nothing.
  let effective = container
  if (container.startsWith('gz-bad')) {
    try {
      if (zlib.gunzipSync(bytes).equals(data)) effective = 'gz'
    } catch {}
  }
  // Damaged state files only beside readable segments: a bad checkpoint must cost nothing.
  let state: StateKind = 'none'
  let stateText: string | undefined
  if ((effective === 'plain' || effective === 'gz') && rng.chance(0.35)) {
    state = rng.pick(['garbage', 'truncated', 'bad-crc', 'other-segment', 'past-end', 'mid-line', 'empty'] as const)
    const valid = (offset: number, seg = segment) => encodeCheckpoint({ segment: seg, offset, items: 1, updatedAt: 1 })
    const interior = lines.find((l) => l.end - l.offset >= 3)
    switch (state) {
      case 'garbage':
        stateText = noNewline(rng.bytes(rng.int(1, 100))).toString('latin1')
        break
      case 'truncated': {
        const t = valid(lines.length > 0 ? lines[0].end : 0)
        stateText = t.slice(0, rng.int(1, t.length - 3))
        break
      }
      case 'bad-crc': {
        const o = JSON.parse(valid(data.length))
        o.crc = (o.crc + 1) >>> 0
        stateText = JSON.stringify(o)
        break
      }
      case 'other-segment':
        stateText = valid(data.length, segmentFileName(base, owner, seq + 1000))
        break
      case 'past-end':
        stateText = valid(data.length + rng.int(1, 5000))
        break
      case 'mid-line':
        if (interior) stateText = valid(interior.offset + 1)
        else state = 'none'
        break
      case 'empty':
        stateText = ''
        break
    }
  }
  return {
    file: container === 'plain' ? segment : `${segment}.gz`,
    segment,
    owner,
    container: effective,
    state,
    data,
    lines,
    bytes,
    ...(stateText !== undefined ? { stateText } : {}),
    ...(recoverable !== undefined ? { recoverable } : {}),
  }
}
