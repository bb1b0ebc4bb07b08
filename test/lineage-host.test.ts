/**
 * The origin's host: one default (the machine's name) for Logger.open's `host`, requeue's
 * `originHost` and PostgresStore.connect's `host`, one rule for a bad one
 * (DLQ_INVALID_OPTION), and a repair — a new record, the entry leaving the line it was — that
 * writes the origin down (a plain requeue does not: the entry stays in its own log).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, requeue } from '../src/index.js'
import { resolveConnectOptions } from '../src/postgres/options.js'
import { tmpDir } from './helpers/tmp.js'
import { retryRecords } from './fixtures/replay-util.js'

const BAD_HOSTS: unknown[] = ['', '   ', 'a\nb', 'tab\there', 'x'.repeat(256), 42, ['h']]

describe('host', () => {
  it('Logger.open: defaults to os.hostname(), takes a name, rejects a bad one', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'a.log'))
    expect(dlq.options.host).toBe(os.hostname())
    await dlq.close()
    const named = await Logger.open(path.join(dir, 'b.log'), { host: 'orders-api-1' })
    expect(named.options.host).toBe('orders-api-1')
    await named.close()
    for (const host of BAD_HOSTS) {
      await expect(Logger.open(path.join(dir, 'c.log'), { host } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('host') })
    }
  })

  it('requeue originHost and PostgresStore.connect host: the same default and the same rule', async () => {
    expect(resolveConnectOptions({}).host).toBe(os.hostname())
    const log = path.join(tmpDir(), 'orders.log')
    fs.writeFileSync(log, '')
    for (const host of BAD_HOSTS) {
      expect(() => resolveConnectOptions({ host })).toThrow(expect.objectContaining({ code: 'DLQ_INVALID_OPTION' }))
      await expect(requeue(log, { originHost: host } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('originHost') })
    }
  })

  it('a repair writes the origin (originHost, or the machine name, and the real log path); a plain requeue does not', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log)
    await dlq.logPermanent({ id: 'a', amount: '1,50' }, 'amount is not a number', { id: 'a' })
    await dlq.logPermanent({ id: 'b', amount: '2,50' }, 'amount is not a number', { id: 'b' })
    await dlq.logPermanent({ id: 'c' }, 'card declined', { id: 'c' })
    await dlq.close()
    const fix = (p: unknown) => ({ ...(p as object), amount: 1.5 })
    const logName = path.join(fs.realpathSync(dir), 'orders.log')

    await requeue(log, { id: 'a', transform: fix, why: 'decimal comma', originHost: 'orders-api-1' })
    await requeue(log, { id: 'b', transform: fix, why: 'decimal comma' })
    await requeue(log, { id: 'c' })
    const byId = new Map(retryRecords(log).map((r) => [r.obj.id, r.obj]))
    expect(byId.get('a')).toMatchObject({ origin: { host: 'orders-api-1', log: logName }, editOf: { id: 'a' }, payload: { amount: 1.5 } })
    expect(byId.get('b')).toMatchObject({ origin: { host: os.hostname(), log: logName }, editOf: { id: 'b' } })
    expect(byId.get('c')).not.toHaveProperty('origin')
  })

  it('a repair keeps an origin the entry already has', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const line = JSON.stringify({ ts: 1, attempt: 3, reason: 'bad', id: 'x', final: 'exhausted', origin: { host: 'pod-7', log: '/srv/other.log' }, payload: { v: 1 } })
    fs.writeFileSync(path.join(dir, 'permanent-orders.log'), line + '\n')
    await requeue(log, { id: 'x', transform: () => ({ v: 2 }), why: 'fix', originHost: 'elsewhere' })
    const [rec] = retryRecords(log)
    expect(rec!.obj).toMatchObject({ origin: { host: 'pod-7', log: '/srv/other.log' }, payload: { v: 2 } })
  })
})
