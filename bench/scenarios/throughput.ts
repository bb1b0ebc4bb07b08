/**
 * Scenarios 2 and 3: log() throughput and the baselines it is compared with, all writing
 * the same envelopes to files in os.tmpdir() (same disk).
 *
 *   kernel    sequential `await log()` and bursts of 1,000 un-awaited calls, per payload size,
 *             and the one-write floor of a sequential awaited call (encode + one write(2) + await),
 *             also with the ownership check every acknowledgement needs (+ one lstat(2))
 *   fsync     1, 16 and 64 producers, each awaiting its own log() in a loop
 *   baseline  pino.destination sync and async, and a raw ceiling (JSON.stringify + 64 KiB writeSync)
 */
import fs from 'node:fs'
import path from 'node:path'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import pino from 'pino'
import { Logger } from '../../src/write/logger.js'
import { encodeHeader, encodeTrailer } from '../../src/format/envelope.js'
import { ByteSink } from '../../src/format/sink.js'
import {
  type Order,
  type PayloadSize,
  type Row,
  LoggableOrder,
  PAYLOAD_SIZES,
  QUICK,
  REASON,
  fail,
  now,
  orderPool,
  perSec,
  report,
  rmScratch,
  scratchDir,
  median,
} from '../lib/common.js'

const GROUP_LOG = '2. log() throughput, durability kernel'
const GROUP_FSYNC = '2. log() throughput, durability fsync'
const GROUP_BASE = '3. baselines (same envelopes, same disk)'
const BASELINES = ['pino sync', 'pino async', 'raw ceiling']
const FLOOR = 'one-write floor'
const CHECKED_FLOOR = 'checked-write floor'

/** Envelope counts per payload size, and a wall-clock cap so slow cases still finish. */
function budget(size: PayloadSize, full: number): { n: number; capMs: number } {
  const scale = size === '120B' ? 1 : size === '1KiB' ? 0.25 : 0.025
  const n = Math.max(1_000, Math.round(full * scale * (QUICK ? 0.1 : 1)))
  return { n, capMs: QUICK ? 1_500 : 8_000 }
}

async function withLogger<T>(opts: Parameters<typeof Logger.open>[1], fn: (dlq: Logger) => Promise<T>): Promise<T> {
  const dir = scratchDir('tput')
  try {
    const dlq = await Logger.open(path.join(dir, 'bench.log'), opts)
    try {
      return await fn(dlq)
    } finally {
      await dlq.close()
    }
  } finally {
    rmScratch(dir)
  }
}

interface Rate {
  count: number
  ms: number
  /** Process CPU time (all threads, user + system) in µs: steadier than wall time on a busy machine. */
  cpuUs?: number
}

async function timed(fn: () => Promise<Rate> | Rate): Promise<Rate> {
  const c0 = process.cpuUsage()
  const r = await fn()
  const c = process.cpuUsage(c0)
  return { ...r, cpuUs: c.user + c.system }
}

async function sequential(dlq: Logger, payloads: unknown[], n: number, capMs: number): Promise<Rate> {
  const mask = payloads.length - 1
  const t0 = now()
  let i = 0
  for (; i < n; i++) {
    await dlq.log(payloads[i & mask], REASON)
    if ((i & 255) === 255 && now() - t0 > capMs) {
      i++
      break
    }
  }
  return { count: i, ms: now() - t0 }
}

async function bursts(dlq: Logger, payloads: unknown[], n: number, capMs: number, burst = 1000): Promise<Rate> {
  const mask = payloads.length - 1
  const ps: Promise<void>[] = new Array(burst)
  const t0 = now()
  let done = 0
  while (done < n) {
    for (let j = 0; j < burst; j++) ps[j] = dlq.log(payloads[(done + j) & mask], REASON)
    await Promise.all(ps)
    done += burst
    if (now() - t0 > capMs) break
  }
  return { count: done, ms: now() - t0 }
}

async function producers(dlq: Logger, payloads: unknown[], count: number, ms: number): Promise<Rate> {
  const mask = payloads.length - 1
  let stop = false
  let total = 0
  const t0 = now()
  const timer = setTimeout(() => {
    stop = true
  }, ms)
  await Promise.all(
    Array.from({ length: count }, async (_, p) => {
      let i = p * 97
      while (!stop) {
        await dlq.log(payloads[i++ & mask], REASON)
        total++
      }
    }),
  )
  clearTimeout(timer)
  return { count: total, ms: now() - t0 }
}

/**
 * What any sequential awaited log() that keeps "resolved = in the OS" must at least do per
 * call: encode the envelope (the library's own encoder, JSON.stringify payload), one
 * write(2), one await. With `checked`, also what keeping "never acknowledged into a file that
 * is no longer the writer's" adds: one lstat of the path compared with the descriptor's
 * inode, as the writer does after every batch (docs/ownership.md).
 */
async function oneWriteFloor(payloads: unknown[], n: number, capMs: number, checked = false): Promise<Rate> {
  const dir = scratchDir('floor')
  try {
    const file = path.join(dir, 'floor.log')
    const fd = fs.openSync(file, 'a', 0o600)
    const ino = fs.fstatSync(fd).ino
    const sink = new ByteSink(64 * 1024)
    const mask = payloads.length - 1
    const t0 = now()
    let i = 0
    for (; i < n; i++) {
      sink.reset()
      encodeHeader(sink, Date.now(), 1, REASON, undefined, undefined)
      sink.utf8(JSON.stringify(payloads[i & mask]))
      encodeTrailer(sink)
      fs.writeSync(fd, sink.buf, 0, sink.len)
      if (checked && fs.lstatSync(file, { throwIfNoEntry: false })?.ino !== ino) throw new Error('floor file replaced')
      await Promise.resolve()
      if ((i & 255) === 255 && now() - t0 > capMs) {
        i++
        break
      }
    }
    const ms = now() - t0
    fs.closeSync(fd)
    return { count: i, ms }
  } finally {
    rmScratch(dir)
  }
}

function loggables(pool: Order[]): LoggableOrder[] {
  return pool.map((o) => new LoggableOrder(o.id, o.amount, o.tags))
}

function note(r: Rate): string {
  const cpu = r.cpuUs === undefined ? '' : `, CPU ${(r.cpuUs / r.count).toFixed(2)} µs/env`
  return `${r.count.toLocaleString('en-US')} envelopes in ${(r.ms / 1000).toFixed(2)} s${cpu}`
}

async function kernelRows(): Promise<Row[]> {
  const rows: Row[] = []
  for (const size of PAYLOAD_SIZES) {
    const pool = orderPool(size)
    const variants: Array<[string, unknown[]]> = [['object', pool]]
    if (size === '120B') variants.push(['Loggable', loggables(pool)])
    for (const [kind, payloads] of variants) {
      // Warm the encoder and the file path before timing.
      await withLogger({}, async (dlq) => {
        await bursts(dlq, payloads, 20_000, 2_000)
      })
      const b = budget(size, 2_000_000)
      const burst = await withLogger({}, (dlq) => timed(() => bursts(dlq, payloads, b.n, b.capMs)))
      // The raw ceiling of the target, measured here, alternating with bursts three times:
      // rates from another child process (the baselines) drift too much for a 0.95× target.
      const vsRaw = size === '120B' && kind === 'object' ? await burstsVsRaw(pool, payloads, Math.round(b.n / 4), b.capMs) : undefined
      rows.push({
        group: GROUP_LOG,
        name: `bursts of 1,000 (${kind})`,
        payload: size,
        value: perSec(burst.count, burst.ms),
        unit: 'env/s',
        note: note(burst) + (vsRaw ? `; vs raw ceiling in this process (median of 3 alternations): ${vsRaw.burst.toFixed(2)} vs ${vsRaw.raw.toFixed(2)} µs/env` : ''),
        compareTo: BASELINES,
        // Issue 5's absolute 1.0M/s depended on the machine; the target since is a ratio to the
        // raw ceiling, which does the same JSON.stringify and writeSync work.
        extra: vsRaw ? { cpuUsPerItem: vsRaw.burst, rawCpuUsPerItem: vsRaw.raw, rawTarget: 0.95 } : { cpuUsPerItem: burst.cpuUs! / burst.count },
      })
      const s = budget(size, 400_000)
      if (kind === 'object') {
        await oneWriteFloor(payloads, Math.min(s.n, 20_000), 1_000) // warm-up
        const floor = await timed(() => oneWriteFloor(payloads, s.n, s.capMs))
        rows.push({
          group: GROUP_LOG,
          name: FLOOR,
          payload: size,
          value: perSec(floor.count, floor.ms),
          unit: 'env/s',
          note: `encode + one writeSync + await per call; ${note(floor)}`,
          extra: { cpuUsPerItem: floor.cpuUs! / floor.count },
        })
        const checked = await timed(() => oneWriteFloor(payloads, s.n, s.capMs, true))
        rows.push({
          group: GROUP_LOG,
          name: CHECKED_FLOOR,
          payload: size,
          value: perSec(checked.count, checked.ms),
          unit: 'env/s',
          note: `the one-write floor + one lstat per call (the ownership check); ${note(checked)}`,
          compareTo: [FLOOR],
          extra: { cpuUsPerItem: checked.cpuUs! / checked.count },
        })
      }
      const seq = await withLogger({}, (dlq) => timed(() => sequential(dlq, payloads, s.n, s.capMs)))
      rows.push({
        group: GROUP_LOG,
        name: `sequential await log() (${kind})`,
        payload: size,
        value: perSec(seq.count, seq.ms),
        unit: 'env/s',
        note: `${note(seq)}; target ≥ 0.9× the one-write floor`,
        compareTo: [...BASELINES, FLOOR, CHECKED_FLOOR],
        extra: { cpuUsPerItem: seq.cpuUs! / seq.count, ...(kind === 'object' ? { floorTarget: 0.9 } : {}) },
      })
    }
  }
  return rows
}

/** CPU µs per envelope of the raw ceiling and of bursts, medians of three alternations. */
async function burstsVsRaw(pool: Order[], payloads: unknown[], n: number, capMs: number): Promise<{ raw: number; burst: number }> {
  const raw: number[] = []
  const burst: number[] = []
  for (let k = 0; k < 3; k++) {
    const r = await timed(() => rawCeiling(pool, n, capMs))
    raw.push(r.cpuUs! / r.count)
    const b = await withLogger({}, (dlq) => timed(() => bursts(dlq, payloads, n, capMs)))
    burst.push(b.cpuUs! / b.count)
  }
  return { raw: median(raw), burst: median(burst) }
}

async function fsyncRows(): Promise<Row[]> {
  const rows: Row[] = []
  const pool = orderPool('120B')
  const ms = QUICK ? 1_000 : 4_000
  for (const count of [1, 16, 64]) {
    const r = await withLogger({ durability: 'fsync' }, (dlq) => timed(() => producers(dlq, pool, count, ms)))
    rows.push({
      group: GROUP_FSYNC,
      name: `${count} producer${count > 1 ? 's' : ''} (object)`,
      payload: '120B',
      value: perSec(r.count, r.ms),
      unit: 'env/s',
      note: note(r),
      ...(count === 64 ? { target: 100_000 } : {}),
    })
  }
  return rows
}

// ------------------------------------------------------------------------------- baselines

function pinoObject(p: Order): object {
  return { attempt: 1, reason: REASON, payload: p }
}

async function pinoRun(sync: boolean, pool: Order[], n: number, capMs: number): Promise<Rate> {
  const dir = scratchDir('pino')
  try {
    const dest = pino.destination({ dest: path.join(dir, 'pino.log'), sync, mkdir: false })
    if (!sync) await new Promise<void>((resolve) => dest.once('ready', () => resolve()))
    const logger = pino({}, dest)
    const mask = pool.length - 1
    const t0 = now()
    let i = 0
    while (i < n) {
      for (let j = 0; j < 1000; j++, i++) logger.info(pinoObject(pool[i & mask]))
      // Async mode: let SonicBoom's writes complete, like a service's event loop would.
      if (!sync) await yieldToLoop()
      if (now() - t0 > capMs) break
    }
    await new Promise<void>((resolve, reject) => {
      dest.once('close', () => resolve())
      dest.once('error', reject)
      dest.end()
    })
    return { count: i, ms: now() - t0 }
  } finally {
    rmScratch(dir)
  }
}

function rawCeiling(pool: Order[], n: number, capMs: number): Rate {
  const dir = scratchDir('raw')
  try {
    const fd = fs.openSync(path.join(dir, 'raw.log'), 'a', 0o600)
    const buf = Buffer.allocUnsafe(64 * 1024)
    let used = 0
    const mask = pool.length - 1
    const t0 = now()
    let i = 0
    for (; i < n; i++) {
      const line = JSON.stringify({ ts: Date.now(), attempt: 1, reason: REASON, payload: pool[i & mask] }) + '\n'
      const len = Buffer.byteLength(line)
      if (used + len > buf.length) {
        if (used > 0) fs.writeSync(fd, buf, 0, used)
        used = 0
        if (len > buf.length) {
          fs.writeSync(fd, line)
          continue
        }
      }
      used += buf.write(line, used)
      if ((i & 1023) === 1023 && now() - t0 > capMs) {
        i++
        break
      }
    }
    if (used > 0) fs.writeSync(fd, buf, 0, used)
    fs.closeSync(fd)
    return { count: i, ms: now() - t0 }
  } finally {
    rmScratch(dir)
  }
}

async function baselineRows(): Promise<Row[]> {
  const rows: Row[] = []
  for (const size of PAYLOAD_SIZES) {
    const pool = orderPool(size)
    const b = budget(size, 1_000_000)
    await pinoRun(true, pool, Math.min(b.n, 20_000), 1_000) // warm-up
    const ps = await timed(() => pinoRun(true, pool, b.n, b.capMs))
    rows.push({ group: GROUP_BASE, name: 'pino sync', payload: size, value: perSec(ps.count, ps.ms), unit: 'lines/s', note: note(ps) })
    const pa = await timed(() => pinoRun(false, pool, b.n, b.capMs))
    rows.push({ group: GROUP_BASE, name: 'pino async', payload: size, value: perSec(pa.count, pa.ms), unit: 'lines/s', note: `${note(pa)}, incl. final flush` })
    rawCeiling(pool, Math.min(b.n, 20_000), 1_000) // warm-up
    const raw = await timed(() => rawCeiling(pool, b.n, b.capMs))
    rows.push({
      group: GROUP_BASE,
      name: 'raw ceiling',
      payload: size,
      value: perSec(raw.count, raw.ms),
      unit: 'lines/s',
      note: note(raw),
      extra: { cpuUsPerItem: raw.cpuUs! / raw.count },
    })
  }
  return rows
}

const part = process.argv[2]
try {
  let rows: Row[]
  if (part === 'kernel') rows = await kernelRows()
  else if (part === 'fsync') rows = await fsyncRows()
  else if (part === 'baseline') rows = await baselineRows()
  else throw new Error('usage: throughput.ts kernel|fsync|baseline [--quick]')
  const notes =
    part === 'baseline'
      ? [
          'pino: pino({}, pino.destination({dest, sync})) logging {attempt, reason, payload} per line (pino adds level, time, pid, hostname); ' +
            'async mode yields to the event loop every 1,000 lines and its time includes the final end()/close. ' +
            'Raw ceiling: JSON.stringify of the envelope + 64 KiB Buffer batches written with fs.writeSync.',
        ]
      : part === 'kernel'
        ? [
            'log() rows: a fresh Logger (default options: rotateSize 64 MiB, maxBufferedBytes 8 MiB) per row in os.tmpdir(). ' +
              '"object" payloads go through JSON.stringify; "Loggable" through toDeadLetter(). Bursts: 1,000 un-awaited log() then await Promise.all.',
          ]
        : []
  report({ rows, notes })
} catch (err) {
  fail(err)
}
