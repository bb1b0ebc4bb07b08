/**
 * Corruption fuzz: many damaged segments (one per case), replayed in batches. Replay must
 * never crash or hang, must deliver every intact envelope (at the offset it was written),
 * and must quarantine every bad line with its segment and offset; a corrupt or truncated .gz
 * is quarantined as a whole (after its readable prefix) and moved aside; a damaged state file
 * costs nothing but a re-read.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { expect, it } from 'vitest'
import { replay, type ReplaySummary } from '../../src/index.js'
import { listSegments, logPaths } from '../../src/store/segments.js'
import { tmpDir } from '../helpers/tmp.js'
import { budget, count, report, SEED } from './helpers/config.js'
import { type Case, idOf, makeCase, makeContent, MAX_RECORD, segmentFileName } from './helpers/corpus.js'
import { Rng } from '../helpers/rng.js'

const CASES = count('DLQ_SOAK_FUZZ_CASES', 1000, 10_000)
const PER_BATCH = 100
const BATCH_TIMEOUT_MS = 30_000

interface Quarantined {
  segment: string
  offset: number
  error: string
  raw: string
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (hang)`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

it(
  `replay survives ${CASES} corrupted segments: delivers every intact envelope, quarantines every bad line with its location`,
  async () => {
    const rng = new Rng(SEED)
    const totals = { cases: 0, batches: 0, intact: 0, delivered: 0, quarantined: 0, gzBroken: 0, badStates: 0, intactBeforeCut: 0 }
    const byContainer: Record<string, number> = {}

    for (let done = 0, batch = 0; done < CASES; batch++) {
      const n = Math.min(PER_BATCH, CASES - done)
      const dir = tmpDir('dlq-fault-fuzz-')
      const logPath = path.join(dir, 'f.log')
      const paths = logPaths(logPath)
      const cases: Case[] = []
      let writerSeq = 0
      let replayerSeq = 0
      for (let i = 0; i < n; i++) {
        const owner = rng.chance(0.2) ? 'replayer' : 'writer'
        const c = makeCase(rng, done + i, 'f', owner, owner === 'writer' ? ++writerSeq : ++replayerSeq)
        cases.push(c)
        fs.writeFileSync(path.join(dir, c.file), c.bytes, { mode: 0o600 })
        if (c.stateText !== undefined) fs.writeFileSync(path.join(dir, `${c.segment}.state`), c.stateText, { mode: 0o600 })
        byContainer[c.container] = (byContainer[c.container] ?? 0) + 1
        if (c.state !== 'none') totals.badStates++
      }
      // A damaged active file too: replay seals it (no writer is alive) under the next writer number.
      const active = makeContent(rng, done + n)
      fs.writeFileSync(logPath, active.data, { mode: 0o600 })
      const activeCase: Case = {
        file: segmentFileName('f', 'writer', writerSeq + 1),
        segment: segmentFileName('f', 'writer', writerSeq + 1),
        owner: 'writer',
        container: 'plain',
        state: 'none',
        data: active.data,
        lines: active.lines,
        bytes: active.data,
      }
      if (active.data.length > 0) cases.push(activeCase)

      const deliveries: Array<{ id: string | undefined; segment: string; offset: number }> = []
      let summary: ReplaySummary
      try {
        summary = await withTimeout(
          replay(logPath, (_payload, env) => void deliveries.push({ id: idOf(env), segment: env.segment, offset: env.offset }), {
            maxRecordSize: MAX_RECORD,
            maxAttempts: 1000,
            checkpointEvery: 7,
          }),
          BATCH_TIMEOUT_MS,
          `replay of batch ${batch}`,
        )
      } catch (err) {
        throw new Error(`batch ${batch} (seed ${SEED}) failed: ${(err as Error).stack}`)
      }

      const quarantined: Quarantined[] = fs.existsSync(paths.corrupt)
        ? fs
            .readFileSync(paths.corrupt, 'utf8')
            .split('\n')
            .filter((l) => l.length > 0)
            .map((l) => JSON.parse(l) as Quarantined)
        : []
      const qBySeg = new Map<string, Quarantined[]>()
      for (const q of quarantined) qBySeg.set(q.segment, [...(qBySeg.get(q.segment) ?? []), q])
      const dBySeg = new Map<string, Array<{ id: string | undefined; offset: number }>>()
      for (const d of deliveries) dBySeg.set(d.segment, [...(dBySeg.get(d.segment) ?? []), d])

      for (const c of cases) {
        const where = `batch ${batch}, ${c.file} (${c.container}, owner ${c.owner}, state ${c.state})`
        const q = qBySeg.get(c.segment) ?? []
        const d = dBySeg.get(c.segment) ?? []
        const deliveredAt = new Map<string, number>()
        for (const x of d) if (x.id !== undefined) deliveredAt.set(x.id, x.offset)
        // A replayer's own segment ending in a partial line is a crash leftover: recovery cuts it.
        const lines = c.owner === 'replayer' && c.container === 'plain' && c.lines.length > 0 && !c.lines.at(-1)!.hasNewline ? c.lines.slice(0, -1) : c.lines

        if (c.container === 'plain' || c.container === 'gz') {
          for (const l of lines) {
            if (l.id !== undefined) {
              totals.intact++
              expect(deliveredAt.get(l.id), `${where}: intact envelope ${l.id} (${l.kind}) at ${l.offset} not delivered there`).toBe(l.offset)
            }
          }
          const expectedBad = lines.filter((l) => l.id === undefined).map((l) => l.offset)
          expect(q.map((x) => x.offset).sort((a, b) => a - b), `${where}: quarantined offsets (bad lines: ${lines.filter((l) => l.id === undefined).map((l) => l.kind)})`).toEqual(expectedBad)
          for (const x of q) expect(x.error, where).toBeTypeOf('string')
          expect(d.length, `${where}: deliveries`).toBe(lines.filter((l) => l.id !== undefined).length)
        } else {
          totals.gzBroken++
          const unreadable = q.filter((x) => /unreadable compressed data/.test(x.error))
          expect(unreadable.length, `${where}: one record for the unreadable rest (data ${c.data.length} bytes, ${d.length} delivered, q ${JSON.stringify(q).slice(0, 300)}, exists ${fs.existsSync(path.join(dir, c.file))})`).toBe(1)
          expect(fs.existsSync(path.join(dir, `corrupt-${c.file}`)), `${where}: kept aside`).toBe(true)
          if (c.container === 'gz-bad-header') {
            expect(d.length, `${where}: nothing is readable`).toBe(0)
            expect(unreadable[0].offset).toBe(0)
          }
          if (c.container === 'gz-truncated') {
            // Everything a forgiving decoder recovers, line by complete line, is accounted for.
            for (const l of lines) {
              if (l.end > c.recoverable! || !l.hasNewline) continue
              if (l.id !== undefined) {
                totals.intact++
                totals.intactBeforeCut++
                expect(deliveredAt.get(l.id), `${where}: intact envelope ${l.id} before the cut (${c.recoverable} bytes recoverable) not delivered`).toBe(l.offset)
              } else {
                expect(q.some((x) => x.offset === l.offset && x !== unreadable[0]), `${where}: bad line at ${l.offset} not quarantined`).toBe(true)
              }
            }
          }
        }
      }
      // Nothing else was delivered (no phantom envelopes), except what a bit flip inside
      // compressed data may turn into: those come from the damaged .gz segments only.
      const known = new Set(cases.flatMap((c) => c.lines.filter((l) => l.id !== undefined).map((l) => `${c.segment}@${l.offset}:${l.id}`)))
      const damaged = new Set(cases.filter((c) => c.container.startsWith('gz-bad')).map((c) => c.segment))
      for (const x of deliveries) {
        if (damaged.has(x.segment)) continue
        expect(known.has(`${x.segment}@${x.offset}:${x.id}`), `unexpected delivery ${JSON.stringify(x)}`).toBe(true)
      }
      // Nothing blocked: every segment was consumed and its state removed.
      expect(await listSegments(paths.retry)).toEqual([])
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.state'))).toEqual([])
      expect(summary.corrupt).toBe(quarantined.length)

      totals.delivered += deliveries.length
      totals.quarantined += quarantined.length
      totals.cases += n
      totals.batches++
      done += n
    }
    expect(totals.cases).toBe(CASES)
    report('corruption-fuzz', { ...totals, ...byContainer })
  },
  budget(120_000),
)

it('a large truncated .gz read by a slow handler still delivers every intact envelope before the cut', async () => {
  // zlib drops the decoded output of the input chunk in which it meets the damage; with a
  // handler slower than the decoder, that is the whole last chunk read: hundreds of records.
  const rng = new Rng(SEED + 1)
  for (const frac of [0.5, 0.97]) {
    const dir = tmpDir('dlq-fault-fuzz-big-')
    const logPath = path.join(dir, 'f.log')
    const lines: string[] = []
    for (let i = 0; i < 60_000; i++) lines.push(JSON.stringify({ ts: 1, attempt: 1, reason: null, id: `b${i}`, payload: rng.bytes(30).toString('base64') }))
    const data = Buffer.from(lines.join('\n') + '\n')
    const gz = zlib.gzipSync(data)
    const cut = gz.subarray(0, Math.floor(gz.length * frac))
    fs.writeFileSync(path.join(dir, 'f.000000000001.log.gz'), cut)
    const recovered = zlib.gunzipSync(cut, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
    const intact = recovered.subarray(0, recovered.lastIndexOf(0x0a) + 1).toString().split('\n').length - 1
    expect(intact).toBeGreaterThan(1000)

    const seen = new Set<string>()
    const summary = await withTimeout(
      replay(
        logPath,
        (_p, env) => {
          seen.add(env.id!)
          if (seen.size % 500 === 0) return new Promise((r) => setTimeout(r, 1))
        },
        { maxRecordSize: MAX_RECORD },
      ),
      BATCH_TIMEOUT_MS,
      'replay of a large truncated gz',
    )
    for (let i = 0; i < intact; i++) if (!seen.has(`b${i}`)) expect.fail(`b${i} of ${intact} intact records (cut at ${frac}) was not delivered`)
    expect(summary.corrupt).toBe(1)
    expect(fs.existsSync(path.join(dir, 'corrupt-f.000000000001.log.gz'))).toBe(true)
  }
})
