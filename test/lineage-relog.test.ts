/**
 * Lineage through local re-logs: a failed item keeps the reason it first failed with and a
 * bounded history of its earlier attempts, in the retry log and in the permanent log; the
 * payload's bytes are still spliced, not re-encoded, once the header carries that lineage.
 * Time is driven through `now`; nothing sleeps.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, inspect, replay } from '../src/index.js'
import { HISTORY_LIMIT } from '../src/format/lineage.js'
import { tmpDir } from './helpers/tmp.js'
import { permanentRecords, retryRecords, writeSegment } from './fixtures/replay-util.js'

const NOW = 1_800_000_000_000

const failWith = (message: string, code: string) => () => {
  throw Object.assign(new Error(message), { name: 'FetchError', code })
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('lineage across local re-logs', () => {
  it('keeps the first reason and the earlier attempts through two replays and into the permanent log', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    await dlq.log({ order: 42 }, Object.assign(new Error('timeout after 3000ms'), { code: 'ETIMEDOUT' }), { id: 'ord-42' })
    await dlq.close()
    const opts = (t: number) => ({ now: () => t, initialWait: 0, maxAttempts: 4 })
    await replay(log, failWith('upstream returned 503', 'E503'), opts(NOW))
    await replay(log, failWith('card declined', 'EDECLINED'), opts(NOW + 1))
    const [retry] = retryRecords(log).map((r) => r.obj as unknown as Record<string, unknown>)
    expect(retry).toMatchObject({
      attempt: 3,
      reason: 'card declined',
      errorCode: 'EDECLINED',
      firstReason: { reason: 'timeout after 3000ms', errorCode: 'ETIMEDOUT' },
      history: [
        { attempt: 1, reason: 'timeout after 3000ms', errorCode: 'ETIMEDOUT' },
        { ts: NOW, attempt: 2, reason: 'upstream returned 503', errorName: 'FetchError', errorCode: 'E503' },
      ],
    })
    expect(retry).not.toHaveProperty('redrives')
    expect(retry).not.toHaveProperty('origin')
    // The fourth failure exhausts it: the permanent record keeps what put it in the log.
    await replay(log, failWith('still failing 1008', 'E1008'), opts(NOW + 2))
    expect(retryRecords(log)).toEqual([])
    const [perm] = permanentRecords(log).map((r) => r.obj as unknown as Record<string, unknown>)
    expect(perm).toMatchObject({ attempt: 4, final: 'exhausted', reason: 'still failing 1008', firstReason: { reason: 'timeout after 3000ms', errorCode: 'ETIMEDOUT' } })
    expect((perm.history as Array<{ reason: string }>).map((a) => a.reason)).toEqual(['timeout after 3000ms', 'upstream returned 503', 'card declined'])
    // inspect shows the same lineage on the entry.
    const [entry] = await all(inspect(log, { kind: 'permanent' }))
    expect(entry).toMatchObject({ firstReason: perm.firstReason, history: perm.history, id: 'ord-42' })
  })

  it(`keeps at most ${HISTORY_LIMIT} earlier attempts after 50 failures, the first reason still there`, async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    await dlq.log({ n: 1 }, 'failure 0')
    await dlq.close()
    for (let i = 1; i <= 50; i++) {
      const s = await replay(log, failWith(`failure ${i}`, `E${i}`), { now: () => NOW + i, initialWait: 0, maxAttempts: 1000 })
      expect(s.requeued).toBe(1)
    }
    const [rec] = retryRecords(log)
    const env = rec!.obj as unknown as { attempt: number; reason: string; firstReason: { reason: string }; history: Array<{ attempt: number; reason: string }> }
    expect(env.attempt).toBe(51)
    expect(env.reason).toBe('failure 50')
    expect(env.firstReason).toEqual({ reason: 'failure 0' })
    expect(env.history.map((a) => [a.attempt, a.reason])).toEqual([
      [46, 'failure 45'],
      [47, 'failure 46'],
      [48, 'failure 47'],
      [49, 'failure 48'],
      [50, 'failure 49'],
    ])
    // Bounded: the record is no longer than after the sixth failure, give or take the digits.
    expect(rec!.line.length).toBeLessThan(900)
  })

  it('splices the payload bytes of a line whose header carries lineage (not re-encoded)', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    // 2^64 + 1 does not survive JSON.parse → JSON.stringify: only a splice keeps these bytes.
    const payload = '{"big":18446744073709551617,"s":"a,\\"payload\\":1"}'
    const line =
      `{"ts":1000,"attempt":2,"reason":"second","firstTs":900,"firstReason":{"reason":"first"},` +
      `"history":[{"ts":900,"attempt":1,"reason":"first"}],"redrives":1,"payload":${payload}}`
    writeSegment(log, 1, [line])
    await replay(log, failWith('third', 'E3'), { now: () => NOW, initialWait: 0, maxAttempts: 10 })
    const [rec] = retryRecords(log)
    expect(rec!.line).toContain(`,"payload":${payload}}`)
    expect(rec!.obj).toMatchObject({ attempt: 3, redrives: 1, firstReason: { reason: 'first' } })
  })
})
