/**
 * Lineage must not push a record over maxRecordSize: a record logged just under the limit,
 * re-logged again and again with long reasons and stacks, moved to the permanent log,
 * requeued and repaired, stays within the limit with its payload intact — never quarantined.
 * Only a payload that cannot fit with the envelope's own fields takes the old path (the
 * record is written as it is and the next replay quarantines it, whole line kept).
 * Time is driven through `now`; nothing sleeps.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, replay, requeue } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { corruptRecords, permanentRecords, retryRecords } from './fixtures/replay-util.js'

const NOW = 1_800_000_000_000
const MAX = 4096

/** A payload whose log() line (reason 'first failure', id 'big') is exactly `lineBytes` long. */
async function payloadFor(lineBytes: number): Promise<{ blob: string }> {
  const probe = path.join(tmpDir(), 'probe.log')
  const dlq = await Logger.open(probe, { maxRecordSize: MAX })
  await dlq.log({ blob: '' }, 'first failure', { id: 'big' })
  await dlq.close()
  const empty = Buffer.byteLength(retryRecords(probe)[0]!.line)
  return { blob: 'x'.repeat(lineBytes - empty) }
}

function lineBytes(r: { line: string }): number {
  return Buffer.byteLength(r.line)
}

const throwLong = (i: number) => () => {
  const err = new Error(`attempt ${i} failed: ` + 'é'.repeat(700))
  err.stack = `Error: attempt ${i}\n` + '    at somewhere (/srv/app/x.js:1:1)\n'.repeat(60)
  throw Object.assign(err, { code: `E${i}` })
}

describe('records within maxRecordSize as lineage grows', () => {
  it('re-logged 12 times, moved, requeued and repaired: every record fits, payload intact, nothing quarantined', async () => {
    // Near the limit: room for the fields every re-log adds (firstTs, dueTs, the error's code)
    // and some of each reason, not for 1,400-byte reasons, stacks and a history.
    const payload = await payloadFor(MAX - 400)
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log, { maxRecordSize: MAX, keepStack: true })
    await dlq.log(payload, 'first failure', { id: 'big' })
    await dlq.close()
    expect(lineBytes(retryRecords(log)[0]!)).toBe(MAX - 400)

    const N = 12
    for (let i = 1; i <= N; i++) {
      const s = await replay(log, throwLong(i), { now: () => NOW + i, initialWait: 0, maxAttempts: N + 2, maxRecordSize: MAX, keepStack: true, maxStackBytes: '2K' })
      expect(s).toMatchObject({ requeued: 1, corrupt: 0 })
      const recs = retryRecords(log)
      expect(recs).toHaveLength(1)
      const rec = recs[0]!
      expect(lineBytes(rec)).toBeLessThanOrEqual(MAX)
      expect(rec.obj).toMatchObject({ id: 'big', attempt: i + 1, errorCode: `E${i}`, payload })
      // The first reason stays as long as a cut one fits; the current reason is this failure's.
      expect(String(rec.obj.reason)).toMatch(new RegExp(`^attempt ${i} failed`))
      // 1,400 bytes of reason cannot stay whole in this record: cut as the reason cap cuts.
      expect(String(rec.obj.reason)).toMatch(/… \[truncated, 7\d\d chars total\]$/)
      expect(rec.obj.firstReason).toMatchObject({ reason: expect.stringMatching(/^first failure/) })
    }
    // Exhausted: the permanent record fits too.
    const last = await replay(log, throwLong(N + 1), { now: () => NOW + N + 1, initialWait: 0, maxAttempts: N + 2, maxRecordSize: MAX, keepStack: true })
    expect(last).toMatchObject({ permanent: 1, corrupt: 0 })
    let [perm] = permanentRecords(log)
    expect(lineBytes(perm!)).toBeLessThanOrEqual(MAX)
    expect(perm!.obj).toMatchObject({ final: 'exhausted', payload })

    // A requeue adds `redrives`, a repair `origin` and `editOf`: still within the limit.
    expect(await requeue(log, { maxRecordSize: MAX })).toMatchObject({ count: 1 })
    let [back] = retryRecords(log)
    expect(lineBytes(back!)).toBeLessThanOrEqual(MAX)
    expect(back!.obj).toMatchObject({ redrives: 1, payload })
    await replay(log, throwLong(99), { now: () => NOW + 100, initialWait: 0, maxAttempts: 1, maxRecordSize: MAX, keepStack: true })
    ;[perm] = permanentRecords(log)
    expect(lineBytes(perm!)).toBeLessThanOrEqual(MAX)
    const r = await requeue(log, { maxRecordSize: MAX, transform: (p) => ({ ...(p as object), fixed: true }), why: 'size guard', originHost: 'h' })
    expect(r).toMatchObject({ count: 1, transform: { changed: 1, failed: 0 } })
    ;[back] = retryRecords(log)
    expect(lineBytes(back!)).toBeLessThanOrEqual(MAX)
    expect(back!.obj).toMatchObject({ redrives: 2, origin: { host: 'h' }, payload: { ...payload, fixed: true } })

    expect(corruptRecords(log)).toEqual([])
    // And the records read back whole: one more replay delivers the payload.
    const seen: unknown[] = []
    const s = await replay(log, (p) => void seen.push(p), { now: () => NOW + 200, maxRecordSize: MAX })
    expect(s).toMatchObject({ delivered: 1, corrupt: 0 })
    expect(seen).toEqual([{ ...payload, fixed: true }])
  })

  it('sheds the stack first, then the oldest history, before cutting any reason', async () => {
    // Room for the stack with one attempt of lineage, not for a full history on top of it.
    const payload = await payloadFor(MAX - 1090)
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log, { maxRecordSize: MAX })
    await dlq.log(payload, 'first failure', { id: 'big' })
    await dlq.close()
    const fail = (i: number) => () => {
      const err = new Error(`attempt ${String(i).padStart(2, '0')} ` + 'r'.repeat(150))
      err.stack = 's'.repeat(600)
      throw err
    }
    const opts = (i: number) => ({ now: () => NOW + i, initialWait: 0, maxAttempts: 50, maxRecordSize: MAX, keepStack: true })
    await replay(log, fail(1), opts(1))
    expect(retryRecords(log)[0]!.obj).toMatchObject({ stack: 's'.repeat(600), history: [{ attempt: 1 }] })
    for (let i = 2; i <= 10; i++) await replay(log, fail(i), opts(i))
    const [rec] = retryRecords(log)
    expect(lineBytes(rec!)).toBeLessThanOrEqual(MAX)
    // The stack went; the history lost its oldest attempts, kept its newest; no reason was cut.
    expect(rec!.obj).not.toHaveProperty('stack')
    const history = rec!.obj.history as Array<{ attempt: number; reason: string }>
    expect(history.length).toBeGreaterThan(0)
    expect(history.length).toBeLessThan(5)
    expect(history.map((a) => a.attempt)).toEqual(Array.from({ length: history.length }, (_, k) => 11 - history.length + k))
    expect(history.every((a) => !a.reason.includes('[truncated'))).toBe(true)
    expect(rec!.obj.reason).toBe(`attempt 10 ${'r'.repeat(150)}`)
    expect(rec!.obj.firstReason).toEqual({ reason: 'first failure' })
    expect(rec!.obj.payload).toEqual(payload)
  })

  it('a payload that cannot fit with the envelope\'s own fields takes the old path: quarantined whole by the next replay', async () => {
    // log() counts the newline against maxRecordSize, replay does not: this is log()'s largest.
    const payload = await payloadFor(MAX - 1)
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log, { maxRecordSize: MAX })
    await dlq.log(payload, 'first failure', { id: 'big' })
    await dlq.close()
    // The re-log adds firstTs and dueTs, which no lineage shrinking can take back.
    expect(await replay(log, throwLong(1), { now: () => NOW, initialWait: 0, maxRecordSize: MAX })).toMatchObject({ requeued: 1 })
    expect(lineBytes(retryRecords(log)[0]!)).toBeGreaterThan(MAX)
    const s = await replay(log, () => {}, { now: () => NOW + 1, maxRecordSize: MAX })
    expect(s).toMatchObject({ corrupt: 1, delivered: 0 })
    const [q] = corruptRecords(log)
    expect(fs.readFileSync(path.join(path.dirname(log), q!.obj.rawFile as string), 'utf8')).toContain(payload.blob)
  })
})
