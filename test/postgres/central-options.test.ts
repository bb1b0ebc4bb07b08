/**
 * The central store validates durations and modes as the local log does: a duration that
 * drives a timer is at most 2^31−1 ms (Node runs a longer timer after 1 ms), a file mode must
 * leave the owner rw, integers are safe integers; the same values are refused with the same
 * message on both sides, before anything is claimed or written.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, replay } from '../../src/index.js'
import { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, rejection, seed, useCluster } from './setup.js'

const pg = useCluster()

const OVER = '25d' // 2,160,000,000 ms > 2^31 − 1
const MAX_TIMER = 2 ** 31 - 1

async function localReplayRejection(options: Record<string, unknown>): Promise<{ code?: string; message: string }> {
  const dir = tmpDir()
  const logPath = path.join(dir, 'l.log')
  const dlq = await Logger.open(logPath)
  await dlq.log({ n: 1 }, 'boom', 1)
  await dlq.close()
  return rejection(replay(logPath, () => {}, options))
}

describe('central options are checked as the local ones', () => {
  it('handlerTimeout and lease over 2^31−1 ms are refused with the local message, and nothing is claimed', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 3)
    let calls = 0
    for (const name of ['handlerTimeout', 'lease'] as const) {
      const central = await rejection(store.replay(() => void calls++, { [name]: OVER }))
      expect(central.code).toBe('DLQ_INVALID_OPTION')
      expect(central.message).toMatch(new RegExp(`option \`${name}\` must be at most ${MAX_TIMER} ms`))
      if (name === 'handlerTimeout') expect(central.message).toBe((await localReplayRejection({ handlerTimeout: OVER })).message)
    }
    expect(calls).toBe(0)
    expect((await allEntries(store)).map((e) => [e.attempt, e.dueTs])).toEqual([
      [1, undefined],
      [1, undefined],
      [1, undefined],
    ])
    // The cap itself is a valid timer.
    expect(await store.replay(async () => void calls++, { handlerTimeout: MAX_TIMER, lease: MAX_TIMER })).toMatchObject({ delivered: 3 })
  })

  it('connectTimeout, sealTimeout and the shipper interval are timers too', async () => {
    const e1 = await rejection(PostgresStore.connect(pg.url, { connectTimeout: OVER }))
    expect(e1).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    expect(e1.message).toMatch(/option `connectTimeout` must be at most 2147483647 ms/)
    const store = await pg.store()
    const dir = tmpDir()
    const logPath = path.join(dir, 'o.log')
    const e2 = await rejection(store.ship(logPath, { sealTimeout: OVER }))
    expect(e2.message).toMatch(/option `sealTimeout` must be at most 2147483647 ms/)
    const e3 = await rejection(() => store.startShipper(logPath, { interval: OVER }))
    expect(e3).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    expect(e3.message).toMatch(/option `interval` must be at most 2147483647 ms/)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('ship refuses a mode that does not give the owner rw, as Logger.open does', async () => {
    const store = await pg.store()
    const dir = tmpDir()
    const logPath = path.join(dir, 'o.log')
    const dlq = await Logger.open(logPath)
    await dlq.log({ n: 1 }, 'boom', 1)
    await dlq.close()
    const before = fs.readdirSync(dir).sort()
    for (const mode of [0o200, 0o400, 0o644 + 0.5, -1, 0o17777]) {
      const central = await rejection(store.ship(logPath, { mode }))
      expect(central.code, String(mode)).toBe('DLQ_INVALID_OPTION')
      const local = await rejection(Logger.open(path.join(tmpDir(), 'x.log'), { mode }))
      expect(central.message, String(mode)).toBe(local.message)
      expect(() => store.startShipper(logPath, { mode })).toThrow(local.message)
    }
    expect(fs.readdirSync(dir).sort()).toEqual(before)
    // Owner rw plus anything else is fine, and the lock it leaves can be read back.
    expect(await store.ship(logPath, { mode: 0o640 })).toMatchObject({ shipped: 1 })
    expect(await store.ship(logPath, { mode: 0o640 })).toMatchObject({ shipped: 0 })
  })

  it('integers are safe integers, and durations that become times fit the bigint columns', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 1)
    const central = await rejection(store.replay(() => {}, { maxAttempts: 2 ** 53 }))
    const local = await localReplayRejection({ maxAttempts: 2 ** 53 })
    expect(central).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    expect(local).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    expect(central.message).toBe(local.message)
    for (const maxRecordSize of [2 ** 53, '9'.repeat(30) + 'G']) {
      expect(await rejection(store.ship(path.join(tmpDir(), 'o.log'), { maxRecordSize })), String(maxRecordSize)).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
      expect(await rejection(Logger.open(path.join(tmpDir(), 'o.log'), { maxRecordSize })), String(maxRecordSize)).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    }
    // The attempt column is a PostgreSQL integer.
    expect((await rejection(store.replay(() => {}, { maxAttempts: 2 ** 31 }))).message).toMatch(/option `maxAttempts` must be at most 2147483647/)
    for (const name of ['initialWait', 'maxWait', 'ttl'] as const) {
      const e = await rejection(store.replay(() => {}, { [name]: 1e300, ...(name === 'initialWait' ? { maxWait: 1e300 } : {}) }))
      expect(e, name).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    }
    for (const filter of [{ since: 1e300 }, { until: -1e300 }, { olderThan: 1e300 }, { olderThan: '9'.repeat(30) + 'd' }]) {
      const e = await rejection(store.stats(filter))
      expect(e, JSON.stringify(filter)).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    }
    expect(await rejection(store.prune({ olderThan: 1e300 }))).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    // Nothing was claimed by the refused runs.
    expect(await store.replay(() => {})).toMatchObject({ delivered: 1 })
  })
})
