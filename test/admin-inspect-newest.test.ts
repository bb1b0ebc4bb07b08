/**
 * `inspect({ order: 'newest' })` reads the files from the end: whatever it reads, a page is
 * exactly the oldest-first listing reversed, skipped and cut — same entries, files and byte
 * offsets — on logs with every kind of file and line the forward scan handles (checkpointed,
 * replayer-owned and .gz segments, torn tails, CRLF, invalid UTF-8, over-long lines, the
 * corrupt quarantine), and on random logs with random filters.
 */
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type InspectOptions, inspect } from '../src/index.js'
import type { Kind as LogKind, LocalOptions } from '../src/format/model.js'
import { envLine } from './fixtures/cli-util.js'
import { type Line, listing, writeActive, writeSegment } from './fixtures/mixed-log.js'
import { tmpDir } from './helpers/tmp.js'

const SEED = Number(process.env.FC_SEED ?? 7_310_226)
const T = 1_760_000_000_000
const S = 1000

/**
 * Newest first with each skip/limit against the whole oldest-first listing of the same filter,
 * reversed. Without pages given: pages that end at each file boundary, one short of it and one
 * past it (where a page ends as a file's matches run out is where an off-by-one would show).
 */
async function expectMirror(log: string, opts: InspectOptions & LocalOptions, pages?: Array<[number, number]>): Promise<void> {
  const all = await listing(log, { ...opts, order: 'oldest' })
  const newest = [...all.entries].reverse()
  if (!pages) {
    pages = [[0, 1]]
    newest.forEach((e, i) => {
      if (i + 1 < newest.length && newest[i + 1].file === e.file) return
      const n = i + 1 // matches in the files up to this one, newest first
      pages!.push([0, n], [0, n + 1], [1, n], [n - 1, 1], [n, 1])
      if (n > 1) pages!.push([0, n - 1], [1, n - 1])
    })
  }
  for (const [skip, limit] of pages) {
    const want = newest.slice(skip, skip + limit)
    const got = await listing(log, { ...opts, order: 'newest', skip, limit })
    const what = `${JSON.stringify(opts)} skip ${skip} limit ${limit}`
    expect(got.entries, what).toEqual(want)
    const limited = all.entries.length > skip + limit
    expect(got.summary, what).toMatchObject({ entries: want.length, skipped: Math.min(skip, all.entries.length), stopped: limited ? 'limit' : null })
    if (limited) {
      // Stopped early: only what was read is counted.
      expect(got.summary.unparseable, what).toBeLessThanOrEqual(all.summary.unparseable)
    } else {
      // Read to the start: the same lines as the forward scan.
      expect(got.summary.unparseable, what).toBe(all.summary.unparseable)
      expect(got.summary.readErrors, what).toEqual(all.summary.readErrors)
    }
  }
}

const rec = (id: string, age: number, reason: string | null, attempt = 1, payload: unknown = { id }) => envLine({ ts: T - age * S, attempt, reason, id, payload })

// Random logs: records (some CRLF, some over a 512-byte limit), junk, empty and invalid UTF-8
// lines; files with or without bytes after their last newline.
const lineArb = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      k: fc.constant('rec' as const),
      age: fc.integer({ min: 0, max: 500 }),
      attempt: fc.integer({ min: 1, max: 5 }),
      reason: fc.constantFrom('timeout after 3s', 'card declined', 'gone', null),
      word: fc.constantFrom('alpha', 'beta', 'gamma'),
      crlf: fc.boolean(),
      long: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom({ k: 'junk' as const }, { k: 'empty' as const }, { k: 'utf8' as const }) },
)
type GenLine = typeof lineArb extends fc.Arbitrary<infer V> ? V : never
const fileArb = fc.record({ lines: fc.array(lineArb, { maxLength: 25 }), tail: fc.option(lineArb, { nil: undefined }) })
type GenFile = typeof fileArb extends fc.Arbitrary<infer V> ? V : never
const segArb = fc.record({ file: fileArb, gz: fc.boolean(), replayer: fc.boolean(), checkpoint: fc.option(fc.nat(), { nil: undefined }) })
const filterArb = fc.record(
  {
    reason: fc.constantFrom<InspectOptions['reason']>('timeout', 'declined', /gone|time/, 'invalid JSON'),
    attempt: fc.integer({ min: 1, max: 5 }),
    since: fc.integer({ min: 0, max: 500 }).map((a) => T - a * S),
    until: fc.integer({ min: 0, max: 500 }).map((a) => T - a * S),
    payload: fc.constantFrom('alpha', 'beta', '"raw"'),
  },
  { requiredKeys: [] },
)

let ids = 0
function lineOf(kind: LogKind, l: GenLine): Line {
  if (l.k === 'junk') return 'junk'
  if (l.k === 'empty') return ''
  if (l.k === 'utf8') return Buffer.from([0x22, 0xe2, 0x82])
  const id = `e${ids++}`
  const text =
    kind === 'corrupt'
      ? JSON.stringify({ ts: T - l.age * S, segment: 'x.log', offset: 0, length: 1, error: l.reason ?? 'invalid JSON', rawEncoding: 'utf8', raw: l.long ? 'r'.repeat(700) : l.word })
      : rec(id, l.age, l.reason, l.attempt, { id, w: l.word, pad: l.long ? 'p'.repeat(700) : '' })
  return l.crlf ? text + '\r' : text
}

/** Both families and the quarantine with every kind of file and line. */
function buildMixedLog(dir: string): string {
  const log = path.join(dir, 'orders.log')
  const big = (id: string, age: number) => rec(id, age, 'huge payload', 2, { id, blob: 'b'.repeat(300 * 1024) })
  for (const family of ['retry', 'permanent'] as const) {
    const f = family[0]
    writeSegment(log, { family, seq: 1, gz: true, mtimeMs: T - 90 * S, lines: [rec(`${f}1`, 90, 'timeout after 3s'), 'garbage in gz', rec(`${f}2`, 89, 'card declined', 3), rec(`${f}3`, 88, null)] })
    writeSegment(log, {
      family,
      seq: 2,
      mtimeMs: T - 80 * S,
      checkpointAfter: family === 'retry' ? 2 : undefined,
      lines: [rec(`${f}4`, 80, 'timeout after 4s'), rec(`${f}5`, 79, 'gone'), rec(`${f}6`, 78, 'card declined') + '\r', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), rec(`${f}7`, 77, 'timeout after 5s', 4), ''],
    })
    writeSegment(log, { family, seq: 1, owner: 'replayer', mtimeMs: T - 70 * S, lines: [rec(`${f}8`, 70, 'gone', 5), big(`${f}9`, 69), rec(`${f}10`, 68, 'timeout after 6s') + '\r'] })
    // A sealed segment cut after its last newline: those bytes are one more line.
    writeSegment(log, { family, seq: 3, mtimeMs: T - 60 * S, lines: [rec(`${f}11`, 60, 'card declined', 2), 'not json'], tail: rec(`${f}12`, 59, 'gone') })
    writeSegment(log, { family, seq: 4, gz: true, mtimeMs: T - 50 * S, lines: [rec(`${f}13`, 50, 'timeout after 7s'), big(`${f}14`, 49), rec(`${f}15`, 48, 'gone', 3)] })
    // The active file: its bytes after the last newline are a record being written.
    writeActive(log, family, [rec(`${f}16`, 40, 'timeout after 8s'), rec(`${f}17`, 39, 'card declined') + '\r', rec(`${f}18`, 38, null, 2)], rec(`${f}19`, 37, 'partial').slice(0, 30))
  }
  const corrupt = (age: number, error: string, raw: string) => JSON.stringify({ ts: T - age * S, segment: 'orders.000000000007.log', offset: age, length: raw.length, error, rawEncoding: 'utf8', raw, rawTruncated: false })
  writeActive(log, 'corrupt', [corrupt(30, 'invalid JSON', 'xyz'), 'not a record', corrupt(20, 'empty line', '') + '\r', Buffer.from([0xc3, 0x28]), corrupt(10, 'invalid JSON', 'abc')], '{"ts":')
  return log
}

describe("inspect({ order: 'newest' })", () => {
  it('is the oldest-first listing reversed on a log with every kind of file and line', async () => {
    const log = buildMixedLog(tmpDir())
    const filters: Record<LogKind, InspectOptions[]> = {
      retry: [{}, { reason: 'timeout' }, { reason: /declined|gone/ }, { attempt: 2 }, { since: T - 65 * S }, { until: T - 65 * S }, { payload: 'blob' }, { id: ['r2', 'r15', 'r18'] }],
      permanent: [{}, { reason: 'timeout' }, { attempt: 3 }, { since: T - 85 * S, until: T - 45 * S }, { payload: '"id":"p1' }],
      corrupt: [{}, { reason: 'invalid JSON' }, { payload: 'abc' }, { since: T - 25 * S }],
    }
    for (const maxRecordSize of [undefined, 200 * 1024]) {
      for (const [kind, fs_] of Object.entries(filters) as Array<[LogKind, InspectOptions[]]>) {
        for (const f of fs_) {
          await expectMirror(log, { kind, maxRecordSize, ...f }, [[2, 4], [5, 50], [30, 5]])
          await expectMirror(log, { kind, maxRecordSize, ...f })
        }
      }
    }
  })

  it('reports the byte offsets the forward scan reports, lines as stored', async () => {
    const log = buildMixedLog(tmpDir())
    for (const kind of ['retry', 'permanent', 'corrupt'] as const) {
      const { entries } = await listing(log, { kind, order: 'newest', limit: 100 })
      expect(entries.length).toBeGreaterThan(2)
      for (const e of entries) {
        if (e.file.endsWith('.gz')) continue
        const at = fs.readFileSync(e.file).subarray(e.offset, e.offset + Buffer.byteLength(e.line) + 1).toString()
        expect(at).toBe(e.line + (at.endsWith('\r') ? '\r' : at.endsWith('\n') ? '\n' : ''))
      }
    }
    // The retry log starts at the checkpoint, skips the active file's partial record and counts
    // the unreadable lines it passed.
    const retry = await listing(log, { kind: 'retry', order: 'newest', limit: 100 })
    expect(retry.entries.map((e) => e.id)).toEqual(['r18', 'r17', 'r16', 'r15', 'r14', 'r13', 'r12', 'r11', 'r10', 'r9', 'r8', 'r7', 'r6', 'r3', 'r2', 'r1'])
    expect(retry.summary).toMatchObject({ entries: 16, stopped: null, unparseable: 4, readErrors: [] })
  })

  it('property: a random page of a random log, filtered at random, is the oldest-first listing reversed', async () => {
    console.log(`admin-inspect-newest property seed ${SEED}`)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<LogKind>('retry', 'permanent', 'corrupt'),
        fc.array(segArb, { maxLength: 4 }),
        fileArb,
        filterArb,
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 20 }),
        fc.boolean(),
        async (kind, segs, active, filter, skip, limit, small) => {
          const log = path.join(tmpDir(), 'orders.log')
          const toFile = (f: GenFile) => ({ lines: f.lines.map((l) => lineOf(kind, l)), tail: f.tail && lineOf(kind, f.tail) })
          if (kind !== 'corrupt') {
            segs.forEach((s, i) => {
              const f = toFile(s.file)
              writeSegment(log, {
                family: kind,
                seq: i + 1,
                owner: s.replayer ? 'replayer' : 'writer',
                gz: s.gz,
                ...f,
                checkpointAfter: kind === 'retry' && s.checkpoint !== undefined ? s.checkpoint % (f.lines.length + 1) : undefined,
                mtimeMs: T - (100 - i) * S,
              })
            })
          }
          const f = toFile(active)
          writeActive(log, kind, f.lines, f.tail)
          const opts: InspectOptions & LocalOptions = { kind, ...filter, maxRecordSize: small ? 512 : undefined }
          if (kind === 'corrupt') delete opts.attempt
          await expectMirror(log, opts, [[skip, limit]])
          await expectMirror(log, opts)
        },
      ),
      { seed: SEED, numRuns: 150 },
    )
  })

  it('honours its signal, and a loop that breaks early', async () => {
    const log = buildMixedLog(tmpDir())
    const ac = new AbortController()
    const seen: string[] = []
    const run = async () => {
      for await (const e of inspect(log, { kind: 'permanent', order: 'newest', limit: 10, signal: ac.signal })) {
        seen.push(e.id!)
        ac.abort()
      }
    }
    await expect(run()).rejects.toMatchObject({ code: 'DLQ_ABORTED' })
    expect(seen).toEqual(['p18'])
    const first = await listing(log, { kind: 'permanent', order: 'newest', limit: 10, signal: AbortSignal.abort() }).catch((err: unknown) => err)
    expect(first).toMatchObject({ code: 'DLQ_ABORTED' })
  })
})
