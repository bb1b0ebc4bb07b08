/**
 * readAudit(log, ref): the audit records that name one entry, read from `<log>.audit.jsonl` —
 * the plain requeue of the entry where it was, the repair that made a repaired entry (its
 * `editOf`) — oldest first, the newest `limit` of them; none when nothing was audited; a ref
 * that is not one is DLQ_INVALID_ARGUMENT.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, inspect, readAudit, requeue } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('readAudit', () => {
  it('names the records of one entry: its repair, not the others; limit keeps the newest', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    for (let i = 0; i < 4; i++) await dlq.logPermanent({ order: i }, 'bad amount', { id: `o${i}` })
    await dlq.close()
    const [o1] = await all(inspect(log, { kind: 'permanent', id: 'o1' }))
    expect(await readAudit(log, o1!.ref)).toEqual([])
    const r = await requeue(log, { transform: (p) => ({ ...(p as object), amount: 1 }), why: 'fix amounts', actor: 'ops@test' })
    expect(r.count).toBe(4)
    const moved = await all(inspect(log, { kind: 'retry' }))
    const m1 = moved.find((e) => e.id === 'o1')!
    // The requeue sealed the active permanent file first: the original is named where it was then.
    expect(m1.editOf?.location).toMatchObject({ offset: o1!.offset, ref: expect.stringMatching(/^permanent\/permanent-orders\.\d+\.log\/\d+$/) })
    const got = await readAudit(log, m1.ref)
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ id: 'o1', actor: 'ops@test', why: 'fix amounts', location: m1.editOf!.location, patch: [{ op: 'add', path: '/amount', value: 1 }] })
    // The original's ref (gone from the log now) names the same record.
    expect(await readAudit(log, m1.editOf!.location.ref)).toEqual(got)
    expect(await readAudit(log, m1.ref, { limit: 1 })).toEqual(got)
  })

  it('refuses a ref that is not one and an unknown option', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    await (await Logger.open(log)).close()
    await expect(readAudit(log, '../../etc/passwd')).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
    await expect(readAudit(log, 'permanent/x.log/1', { limit: 0 })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    await expect(readAudit(log, 'permanent/x.log/1', { lmit: 1 } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
  })
})
