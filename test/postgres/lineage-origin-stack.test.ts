/**
 * The origin a repair writes and the opt-in stack, through a ship to a real PostgreSQL: a
 * repaired entry keeps the origin its repair wrote (not the shipping host), a plain one takes
 * the shipping host; a kept stack lands in the `stack` column and reads back on the entry,
 * and a central replay's failed attempt drops it (it was the earlier failure's).
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, requeue } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { collect, useCluster } from './setup.js'

const pg = useCluster()

describe('origin and stack in the central store', () => {
  it('a repaired entry ships with the origin its repair wrote; a plain one with the shipping host', async () => {
    const store = await pg.store({ host: 'ship-host' })
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log, { host: 'orders-api-1' })
    await dlq.logPermanent({ id: 'a', amount: '1,50' }, 'amount is not a number', { id: 'a' })
    await dlq.logPermanent({ id: 'b' }, 'card declined', { id: 'b' })
    await dlq.close()
    await requeue(log, { id: 'a', transform: (p) => ({ ...(p as object), amount: 1.5 }), why: 'decimal comma', originHost: dlq.options.host })
    await requeue(log, { id: 'b' })
    expect(await store.ship(log)).toMatchObject({ shipped: 2 })
    const logName = path.join(fs.realpathSync(dir), 'orders.log')
    const rows = new Map((await collect(store.inspect({ kind: 'retry' }))).map((e) => [e.id, e]))
    expect(rows.get('a')).toMatchObject({ host: 'ship-host', origin: { host: 'orders-api-1', log: logName }, payload: { amount: 1.5 }, editOf: { id: 'a', location: { file: expect.stringMatching(/^permanent-orders\.\d{12}\.log$/) } } })
    expect(rows.get('b')).toMatchObject({ host: 'ship-host', origin: { host: 'ship-host', log: logName } })
  })

  it('a kept stack is shipped, read back, and dropped by a central replay\'s failed attempt', async () => {
    const store = await pg.store()
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log, { keepStack: true, maxStackBytes: 512 })
    const err = new Error('timeout')
    err.stack = 'Error: timeout\n' + '    at handler (/srv/app/x.js:1:1)\n'.repeat(40)
    await dlq.log({ n: 1 }, err, { id: 'with-stack' })
    await dlq.log({ n: 2 }, new Error('second failure'), { id: 'second' })
    await dlq.close()
    // A plain log() without keepStack: no stack, no column value.
    const plain = path.join(tmpDir(), 'plain.log')
    const p = await Logger.open(plain)
    await p.log({ n: 3 }, new Error('plain'), { id: 'plain' })
    await p.close()
    expect(await store.ship(log)).toMatchObject({ shipped: 2 })
    expect(await store.ship(plain)).toMatchObject({ shipped: 1 })
    const rows = new Map((await collect(store.inspect({ kind: 'retry' }))).map((e) => [e.id, e]))
    const stack = rows.get('with-stack')!.stack!
    expect(Buffer.byteLength(stack)).toBeLessThanOrEqual(512)
    expect(stack).toMatch(/^Error: timeout\n {4}at handler .*… \[truncated, \d+ bytes total\]$/s)
    expect(JSON.parse(rows.get('with-stack')!.line)).toMatchObject({ stack })
    expect(rows.get('plain')).not.toHaveProperty('stack')

    expect(await store.replay(() => { throw new Error('central failure') }, { initialWait: '1h', maxAttempts: 10 })).toMatchObject({ requeued: 3 })
    for (const e of await collect(store.inspect({ kind: 'retry' }))) {
      expect(e.reason).toBe('central failure')
      expect(e).not.toHaveProperty('stack')
    }
  })
})
