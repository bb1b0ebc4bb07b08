/**
 * Newest-first listing cost: inspect(log, { kind: 'permanent', order: 'newest', limit: 50 })
 * (the web inspector's default page of the permanent and corrupt logs) on a permanent log of
 * 100k and of 1M entries in 64 MiB segments, with 10 entries in the active file so the page
 * crosses into the newest segment.
 *
 *   first page    limit 50 (median of 30 calls)
 *   deepest page  skip 9,950, limit 50: the inspector's page cap (median of 10 calls)
 *   no match      a filter nothing matches: the whole log read backwards (one call), beside
 *                 the same filter oldest first in the note
 *
 * The two pages should cost the same at both sizes: they read the end of the log, whatever
 * lies before it. Bytes read per call come from /proc/self/io (Linux).
 */
import fs from 'node:fs'
import path from 'node:path'
import { inspect } from '../../src/admin/inspect.js'
import type { InspectOptions } from '../../src/format/model.js'
import { type Row, envelopeLine, fail, now, orderPool, rmScratch, scratchDir, writeSegments, median, reportAtTwoSizes } from '../lib/common.js'

const GROUP = 'inspect: newest first'

/** Bytes this process read through system calls so far (Linux /proc/self/io; NaN elsewhere). */
function rchar(): number {
  try {
    return Number(/rchar: (\d+)/.exec(fs.readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN)
  } catch {
    return NaN
  }
}

async function timed(log: string, opts: InspectOptions): Promise<{ ms: number; bytes: number; entries: number }> {
  const r0 = rchar()
  const t0 = now()
  let entries = 0
  for await (const _ of inspect(log, opts)) entries++
  const ms = now() - t0
  return { ms, bytes: rchar() - r0, entries }
}

function kib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(0)} KiB` : 'n/a'
}

async function measure(entries: number): Promise<Row[]> {
  const pool = orderPool('120B')
  const dir = scratchDir('inspect')
  try {
    const log = path.join(dir, 'bench.log')
    const files = writeSegments(dir, 'permanent-bench', pool, entries - 10)
    fs.writeFileSync(path.join(dir, 'permanent-bench.log'), Array.from({ length: 10 }, (_, i) => envelopeLine(1_700_000_100_000 + i, pool[i])).join(''))
    const bytes = files.reduce((n, f) => n + fs.statSync(f).size, 0)
    const label = entries >= 1_000_000 ? `${entries / 1_000_000}M entries` : `${entries / 1000}k entries`
    const base: InspectOptions = { kind: 'permanent', order: 'newest', limit: 50 }

    const runs = async (n: number, opts: InspectOptions) => {
      await timed(log, opts) // warm-up
      const out: Array<{ ms: number; bytes: number; entries: number }> = []
      for (let i = 0; i < n; i++) out.push(await timed(log, opts))
      if (out.some((r) => r.entries !== 50)) throw new Error(`expected pages of 50, got ${out.map((r) => r.entries).join(',')}`)
      return { ms: median(out.map((r) => r.ms)), bytes: median(out.map((r) => r.bytes)) }
    }
    const first = await runs(30, base)
    const deep = await runs(10, { ...base, skip: 9_950 })
    const none = await timed(log, { ...base, reason: 'no such reason' })
    const noneOldest = await timed(log, { kind: 'permanent', order: 'oldest', limit: 50, reason: 'no such reason' })

    const row = (name: string, ms: number, note: string): Row => ({ group: GROUP, name, payload: label, value: ms, unit: 'ms', lowerIsBetter: true, note })
    const seg = `${files.length} segment(s), ${(bytes / 2 ** 20).toFixed(0)} MiB`
    return [
      row('first page (limit 50)', first.ms, `median of 30: ${first.ms.toFixed(3)} ms, read ${kib(first.bytes)} per call; ${seg}`),
      row('deepest page (skip 9,950, limit 50)', deep.ms, `median of 10: ${deep.ms.toFixed(3)} ms, read ${kib(deep.bytes)} per call`),
      row(
        'filter matching nothing (reads it all backwards)',
        none.ms,
        `one call: ${(none.ms / 1000).toFixed(2)} s, read ${(none.bytes / 2 ** 20).toFixed(0)} MiB; oldest first: ${(noneOldest.ms / 1000).toFixed(2)} s`,
      ),
    ]
  } finally {
    rmScratch(dir)
  }
}

try {
  await reportAtTwoSizes(
    measure,
    (ratio, [small, big]) =>
      `inspect newest first: ${big} / ${small} entries = ${ratio('first page (limit 50)')} for the first page, ${ratio('deepest page (skip 9,950, limit 50)')} for the deepest (flat = ~1×: a page costs what it lists and passes over, not the size of the log).`,
  )
} catch (err) {
  fail(err)
}
