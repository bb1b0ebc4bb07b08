/**
 * Shared by the bench orchestrator (bench/run.ts) and the scenario children
 * (bench/scenarios/*.ts): payloads, envelopes, scratch directories and the result shape.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { JsonOut, Loggable } from '../../src/format/serialize.js'

export const QUICK = process.argv.includes('--quick') || process.env.DLQ_BENCH_QUICK === '1'

export type Status = 'met' | 'missed' | ''

/** One row of the results table. `value` is always in `unit`; higher is better unless `lowerIsBetter`. */
export interface Row {
  group: string
  name: string
  payload: string
  value: number
  unit: string
  /** Free text shown after the row (counts, method, caveats). */
  note?: string
  target?: number
  lowerIsBetter?: boolean
  /** Row names (same group "baseline", same payload) this row is compared against. */
  compareTo?: string[]
  extra?: Record<string, unknown>
}

export interface ScenarioResult {
  rows: Row[]
  notes: string[]
}

// ------------------------------------------------------------------------------- payloads

export type PayloadSize = '120B' | '1KiB' | '16KiB'
export const PAYLOAD_SIZES: PayloadSize[] = ['120B', '1KiB', '16KiB']
const TARGET_BYTES: Record<PayloadSize, number> = { '120B': 120, '1KiB': 1024, '16KiB': 16 * 1024 }

export interface Order {
  id: string
  amount: number
  tags: string[]
}

const TAG_WORDS = ['checkout', 'eu-west-1', 'priority', 'card', 'retry', 'gateway', 'timeout', 'express', 'fraud-ok', 'b2c']

/**
 * `{id, amount, tags}` whose JSON is as close to the size as tags allow. Ids and amounts vary
 * per item so nothing can be served from a cache of one value.
 */
export function makeOrder(size: PayloadSize, i: number): Order {
  const want = TARGET_BYTES[size]
  const id = `order-${String(i).padStart(10, '0')}`
  const amount = 1000 + (i % 100_000) + (i % 100) / 100
  const tags: string[] = []
  // Length so far with an empty tag list; each tag adds its quoted length plus a comma.
  let len = JSON.stringify({ id, amount, tags }).length
  for (let k = 0; ; k++) {
    const next = TAG_WORDS[(i + k) % TAG_WORDS.length]
    const add = next.length + 2 + (tags.length > 0 ? 1 : 0)
    if (len + add > want + 4 && tags.length > 0) break
    tags.push(next)
    len += add
    if (len >= want - 4) break
  }
  return { id, amount, tags }
}

/** The Loggable form of an Order: writes itself without building a string first. */
export class LoggableOrder implements Loggable {
  constructor(
    readonly id: string,
    readonly amount: number,
    readonly tags: string[],
  ) {}

  toDeadLetter(out: JsonOut): void {
    out.beginObject().key('id').string(this.id).key('amount').number(this.amount).key('tags').beginArray()
    const tags = this.tags
    for (let i = 0; i < tags.length; i++) out.string(tags[i])
    out.endArray().endObject()
  }
}

export const ORDER_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    amount: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['id', 'amount', 'tags'],
} as const

/** A pool of distinct payloads, built before timing starts. */
export function orderPool(size: PayloadSize, n = 1024): Order[] {
  const out: Order[] = []
  for (let i = 0; i < n; i++) out.push(makeOrder(size, i))
  return out
}

export function payloadBytes(size: PayloadSize): number {
  return JSON.stringify(makeOrder(size, 0)).length
}

export const REASON = 'upstream timeout'

/** One envelope line exactly as the logger writes it (payload last); `fields`: more header fields, e.g. `,"tp":"…"`. */
export function envelopeLine(ts: number, payload: Order, attempt = 1, fields = ''): string {
  return `{"ts":${ts},"attempt":${attempt},"reason":${JSON.stringify(REASON)}${fields},"payload":${JSON.stringify(payload)}}\n`
}

// ------------------------------------------------------------------------------- scratch

/**
 * A fresh directory under os.tmpdir() (inside the run's own root when the orchestrator set
 * one, so a crashed child leaves nothing behind); the caller removes it with rmScratch().
 */
export function scratchDir(tag: string): string {
  return fs.mkdtempSync(path.join(process.env.DLQ_BENCH_TMP || os.tmpdir(), `dlq-bench-${tag}-`))
}

export function rmScratch(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true })
}

/**
 * Write `segments` sealed retry segments straight in the file format, `perSegment` lines
 * each, cycling through the payload pool. Much faster than going through log().
 */
/** Envelopes of `pool` per 64 MiB segment (the default rotateSize). */
function per64MiB(pool: Order[]): number {
  return Math.floor((64 * 1024 * 1024) / Buffer.byteLength(envelopeLine(1_700_000_000_000, pool[0]!)))
}

/** `total` envelopes in segment files `<base>.<seq>.log`, `perSegment` each (default: 64 MiB worth). */
export function writeSegments(dir: string, base: string, pool: Order[], total: number, perSegment = per64MiB(pool), fields = ''): string[] {
  const files: string[] = []
  const lines = pool.map((p, i) => Buffer.from(envelopeLine(1_700_000_000_000 + i, p, 1, fields)))
  const chunk = Buffer.allocUnsafe(4 * 1024 * 1024)
  let written = 0
  let seq = 1
  while (written < total) {
    const file = path.join(dir, `${base}.${String(seq++).padStart(12, '0')}.log`)
    const fd = fs.openSync(file, 'w', 0o600)
    let used = 0
    const n = Math.min(perSegment, total - written)
    for (let k = 0; k < n; k++) {
      const line = lines[(written + k) % lines.length]
      if (used + line.length > chunk.length) {
        fs.writeSync(fd, chunk, 0, used)
        used = 0
      }
      used += line.copy(chunk, used)
    }
    if (used > 0) fs.writeSync(fd, chunk, 0, used)
    fs.closeSync(fd)
    written += n
    files.push(file)
  }
  return files
}

// ------------------------------------------------------------------------------- timing

export function now(): number {
  return performance.now()
}

/** Cost-follows-work scenarios measure at two log sizes (entries). */
export const TWO_SIZES: [number, number] = QUICK ? [20_000, 100_000] : [100_000, 1_000_000]

/**
 * Runs `measure` at both sizes (small first): its rows with one note, written by `note` from
 * `ratio(row name)`: the larger size over the smaller, ~1× when the cost does not grow with
 * the log.
 */
export async function atTwoSizes(
  measure: (entries: number) => Promise<Row[]>,
  note: (ratio: (name: string) => string, sizes: [string, string]) => string,
): Promise<ScenarioResult> {
  const rows: Row[] = []
  for (const n of TWO_SIZES) rows.push(...(await measure(n)))
  const ratio = (name: string) => {
    const r = rows.filter((x) => x.name === name)
    return r.length === 2 ? `${(r[1]!.value / r[0]!.value).toFixed(2)}×` : 'n/a'
  }
  return { rows, notes: [note(ratio, [TWO_SIZES[0].toLocaleString('en-US'), TWO_SIZES[1].toLocaleString('en-US')])] }
}

/** atTwoSizes, reported. */
export async function reportAtTwoSizes(
  measure: (entries: number) => Promise<Row[]>,
  note: (ratio: (name: string) => string, sizes: [string, string]) => string,
): Promise<void> {
  report(await atTwoSizes(measure, note))
}

/** The value below which `p` (0..1) of `xs` lie (nearest rank). */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.max(0, Math.ceil(p * s.length) - 1)]!
}

/** The middle element of `xs` by `key` (the upper one of an even count). */
export function medianBy<T>(xs: T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!
}

export function median(xs: number[]): number {
  return medianBy(xs, (x) => x)
}

export function perSec(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0
}

/** Send the result to the orchestrator (IPC) or print it when run by hand. */
export function report(result: ScenarioResult): void {
  if (process.send) process.send({ type: 'result', result })
  else console.log(JSON.stringify(result, null, 2))
}

export function fail(err: unknown): never {
  const e = err instanceof Error ? err : new Error(String(err))
  if (process.send) process.send({ type: 'error', message: e.stack ?? e.message })
  else console.error(e)
  process.exit(1)
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc
  if (!g) throw new Error('run with --expose-gc')
  g()
}

export function mib(bytes: number): number {
  return bytes / (1024 * 1024)
}
