/**
 * Shared by the export tests: the export events this process publishes (diagnostics channel
 * `dletter:serve:export`, waited on as conditions, never with sleeps), a raw HTTP client that
 * reads a response only when told to, and big logs written in pieces (bounded test memory).
 */
import diagnostics_channel from 'node:diagnostics_channel'
import fs from 'node:fs'
import http from 'node:http'
import v8 from 'node:v8'
import vm from 'node:vm'
import { expect } from 'vitest'
import { EXPORT_CHANNEL, type ExportEvent } from '../../src/serve/export.js'
import { envLine } from '../fixtures/cli-util.js'

export interface ExportWatch {
  events: ExportEvent[]
  /** The first event (past or future) of `source` that satisfies `pred`. */
  next(source: string, pred: (e: ExportEvent) => boolean): Promise<ExportEvent>
  stop(): void
}

export function watchExports(): ExportWatch {
  const events: ExportEvent[] = []
  const waiters: Array<{ test: (e: ExportEvent) => boolean; resolve: (e: ExportEvent) => void }> = []
  const onMessage = (m: unknown) => {
    const e = m as ExportEvent
    events.push(e)
    for (const w of [...waiters]) {
      if (w.test(e)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(e)
      }
    }
  }
  diagnostics_channel.subscribe(EXPORT_CHANNEL, onMessage)
  return {
    events,
    next(source, pred) {
      const test = (e: ExportEvent) => e.source === source && pred(e)
      const hit = events.find(test)
      return hit ? Promise.resolve(hit) : new Promise((resolve) => waiters.push({ test, resolve }))
    },
    stop: () => diagnostics_channel.unsubscribe(EXPORT_CHANNEL, onMessage),
  }
}

/** A GET whose response body is not read until the caller attaches a reader (the socket fills, the server must wait). */
export function openGet(url: string, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, resolve)
    req.on('error', reject)
  })
}

/** Calls `onLine` with every line of the body as it arrives; resolves with the number of lines once it has ended. */
export function eachLine(res: http.IncomingMessage, onLine: (line: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let rest = ''
    let n = 0
    res.setEncoding('utf8')
    res.on('data', (d: string) => {
      const parts = (rest + d).split('\n')
      rest = parts.pop()!
      for (const l of parts) {
        n++
        onLine(l)
      }
    })
    res.on('end', () => (rest === '' ? resolve(n) : reject(new Error(`body ends inside a line: ${rest.slice(0, 80)}`))))
    res.on('error', reject)
    res.on('aborted', () => reject(new Error('response aborted')))
  })
}

/** `count` permanent envelopes, payload `{ i, pad }` (`pad` chars of padding), written in pieces to `file`. */
export function writeBigSegment(file: string, count: number, pad: number, ts0 = Date.now() - 3_600_000): void {
  const fd = fs.openSync(file, 'w', 0o600)
  try {
    const filler = 'x'.repeat(pad)
    for (let start = 0; start < count; start += 5000) {
      const lines: string[] = []
      for (let i = start; i < Math.min(count, start + 5000); i++) {
        lines.push(envLine({ ts: ts0 + i, attempt: 3, reason: `boom ${i % 7}`, id: `e${i}`, firstTs: ts0, final: 'exhausted', payload: { i, pad: filler } }))
      }
      fs.writeSync(fd, lines.join('\n') + '\n')
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** Live memory growth allowed at any sample of a big export: a small fraction of the data (~170 MB). */
export const MEMORY_BOUND = 24 * 1024 * 1024

// Samples measure what is live, not garbage not yet collected: a full collection before each.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

/** The JS heap and the buffers outside it (chunks waiting for the socket are Uint8Arrays), after a full collection. */
function liveMemory(): number {
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/**
 * Exports `path` (entries of writeBigSegment, `count` of them) with a client that first reads
 * nothing — the export must wait for it, with fewer entries read than half — then everything:
 * each entry exactly once, and live memory, sampled all along, within MEMORY_BOUND.
 */
export async function exportPausedThenAll(url: string, path: string, source: string, watch: ExportWatch, count: number): Promise<void> {
  const base = liveMemory()
  let peak = base
  const sample = () => (peak = Math.max(peak, liveMemory()))
  const res = await openGet(url + path)
  expect(res.statusCode).toBe(200)
  const waiting = await watch.next(source, (e) => e.event === 'wait' || e.event === 'end')
  sample()
  expect(peak - base).toBeLessThan(MEMORY_BOUND)
  expect(waiting.event).toBe('wait')
  expect(waiting.entries).toBeGreaterThan(0)
  expect(waiting.entries).toBeLessThan(count / 2)

  const seen = new Uint8Array(count)
  let bytes = 0
  const lines = await eachLine(res, (l) => {
    bytes += l.length + 1
    const i = JSON.parse(l).payload.i as number
    seen[i]++
    if (i % 5000 === 0) sample()
  })
  sample()
  expect(lines).toBe(count)
  expect(seen.every((n) => n === 1)).toBe(true)
  expect(bytes).toBeGreaterThan(3 * MEMORY_BOUND)
  expect(await watch.next(source, (e) => e.event === 'end')).toMatchObject({ stopped: null, entries: count })
  console.log(`export of ${count} entries from ${source} (${(bytes / 1e6).toFixed(0)} MB): live heap + buffers growth peak ${((peak - base) / 1e6).toFixed(1)} MB`)
  expect(peak - base).toBeLessThan(MEMORY_BOUND)
}
