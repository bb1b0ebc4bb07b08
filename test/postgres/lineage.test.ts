/**
 * Lineage through the whole journey, on a real PostgreSQL: logged on a host, failed by two
 * local replays into the permanent log, requeued, shipped, failed again by a central replay —
 * the first reason, the history of attempts and the redrive count survive every step, the
 * origin is written when the entry leaves its log, and stats can group by the first reason.
 * Old envelopes (no lineage) ship and read as before.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, replay, requeue } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { writeLines } from '../fixtures/cli-util.js'
import { collect, useCluster } from './setup.js'

const pg = useCluster()

const failWith = (message: string, code: string) => () => {
  throw Object.assign(new Error(message), { code })
}

describe('lineage in the central store', () => {
  it('first reason and history survive two replays, a requeue, a ship and a central replay', async () => {
    const store = await pg.store()
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    await dlq.log({ order: 7 }, Object.assign(new Error('timeout after 3000ms'), { code: 'ETIMEDOUT' }), { id: 'ord-7' })
    await dlq.close()
    await replay(log, failWith('upstream returned 503', 'E503'), { initialWait: 0, maxAttempts: 3 })
    await replay(log, failWith('card declined', 'EDECLINED'), { initialWait: 0, maxAttempts: 3 })
    expect(await requeue(log, { resetAttempts: true })).toMatchObject({ count: 1, heldBack: 0 })
    expect(await store.ship(log)).toMatchObject({ shipped: 1 })
    const logName = path.join(fs.realpathSync(path.dirname(log)), 'orders.log')
    const [shipped] = await collect(store.inspect({ kind: 'retry' }))
    expect(shipped).toMatchObject({
      attempt: 1,
      reason: 'card declined',
      redrives: 1,
      origin: { host: 'host-a', log: logName },
      firstReason: { reason: 'timeout after 3000ms', errorCode: 'ETIMEDOUT' },
    })
    expect(shipped!.history!.map((a) => [a.attempt, a.reason, a.errorCode])).toEqual([
      [1, 'timeout after 3000ms', 'ETIMEDOUT'],
      [2, 'upstream returned 503', 'E503'],
    ])
    // The listing's line is the record encoded again from the columns: it carries them too.
    expect(JSON.parse(shipped!.line)).toMatchObject({ redrives: 1, firstReason: shipped!.firstReason, history: shipped!.history, origin: shipped!.origin })

    expect(await store.replay(failWith('still failing 1008', 'E1008'), { initialWait: 0, maxAttempts: 10, limit: 1 })).toMatchObject({ requeued: 1 })
    const [after] = await collect(store.inspect({ kind: 'retry' }))
    expect(after).toMatchObject({ attempt: 2, reason: 'still failing 1008', redrives: 1, origin: shipped!.origin, firstReason: shipped!.firstReason })
    expect(after!.history!.map((a) => [a.attempt, a.reason])).toEqual([
      [1, 'timeout after 3000ms'],
      [2, 'upstream returned 503'],
      [1, 'card declined'],
    ])
    // Grouped by first reason, the entry is still the timeout that put it in the log.
    const byFirst = await store.stats({ groupBy: 'first' })
    expect(byFirst.retry.reasons).toMatchObject([{ count: 1, example: 'timeout after 3000ms' }])
    const byLast = await store.stats()
    expect(byLast.retry.reasons).toMatchObject([{ count: 1, example: 'still failing 1008' }])
  })

  it('keeps at most 5 earlier attempts however often a central replay fails, the first reason kept', async () => {
    const store = await pg.store()
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    await dlq.log({ n: 1 }, 'failure 0')
    await dlq.close()
    await store.ship(log)
    for (let i = 1; i <= 12; i++) {
      expect(await store.replay(failWith(`failure ${i}`, `E${i}`), { initialWait: 0, maxAttempts: 100, limit: 1 })).toMatchObject({ requeued: 1 })
    }
    const [e] = await collect(store.inspect({ kind: 'retry' }))
    expect(e).toMatchObject({ attempt: 13, reason: 'failure 12', firstReason: { reason: 'failure 0' } })
    expect(e!.history!.map((a) => a.reason)).toEqual(['failure 7', 'failure 8', 'failure 9', 'failure 10', 'failure 11'])
  })

  it('ships and lists an old envelope without lineage as before; its origin is written at the ship', async () => {
    const store = await pg.store()
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    writeLines(path.join(dir, 'orders.000000000001.log'), [JSON.stringify({ ts: 1000, attempt: 2, reason: 'old one', id: 'old', payload: { a: 1 } })])
    expect(await store.ship(log)).toMatchObject({ shipped: 1 })
    const [e] = await collect(store.inspect({ kind: 'retry' }))
    expect(e).toMatchObject({ id: 'old', reason: 'old one', attempt: 2, payload: { a: 1 }, origin: { host: 'host-a' } })
    for (const k of ['firstReason', 'history', 'redrives']) expect(e).not.toHaveProperty(k)
    // Its first reason is its own reason.
    expect((await store.stats({ groupBy: 'first' })).retry.reasons).toMatchObject([{ example: 'old one' }])
  })
})
