/**
 * Durations that drive a timer are capped at 2^31−1 ms: Node runs a longer setTimeout or
 * setInterval after 1 ms instead (startReplayer({ interval: '30d' }) replayed ~200×/s) and
 * prints a TimeoutOverflowWarning. Longer values are rejected with DLQ_INVALID_OPTION; no
 * warning is ever emitted.
 */
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Logger, replay, type DeadLetterError } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'

const MAX = 2 ** 31 - 1

let warnings: Error[] = []
const onWarning = (w: Error): void => void warnings.push(w)
beforeEach(() => {
  warnings = []
  process.on('warning', onWarning)
})
afterEach(async () => {
  // process 'warning' is emitted on the next tick after the timer call that caused it.
  await new Promise((r) => setImmediate(r))
  process.off('warning', onWarning)
  expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([])
})

const open: Logger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => {})
})

function expectTooLong(err: unknown, option: string): void {
  expect(err).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
  expect((err as DeadLetterError).message).toContain(`\`${option}\``)
  expect((err as DeadLetterError).message).toContain(String(MAX))
}

const tooLong: Array<number | string> = ['30d', MAX + 1]

describe('Logger options', () => {
  for (const value of tooLong) {
    it(`sealPollInterval ${JSON.stringify(value)} is rejected`, async () => {
      const file = path.join(tmpDir(), 'orders.log')
      const err = await Logger.open(file, { sealPollInterval: value }).catch((e: unknown) => e)
      expectTooLong(err, 'sealPollInterval')
    })
  }

  it('sealPollInterval of exactly 2^31−1 ms is accepted', async () => {
    const dlq = await Logger.open(path.join(tmpDir(), 'orders.log'), { sealPollInterval: MAX })
    open.push(dlq)
    expect(dlq.options.sealPollInterval).toBe(MAX)
  })
})

describe('replay options', () => {
  for (const option of ['handlerTimeout', 'checkpointInterval', 'sealTimeout', 'retryDelay']) {
    for (const value of tooLong) {
      it(`${option} ${JSON.stringify(value)} is rejected before anything runs`, async () => {
        const file = path.join(tmpDir(), 'orders.log')
        let calls = 0
        const err = await replay(file, () => void calls++, { [option]: value }).catch((e: unknown) => e)
        expectTooLong(err, option)
        expect(calls).toBe(0)
      })
    }
  }

  it('handlerTimeout of exactly 2^31−1 ms is honoured: a quick handler is delivered, not timed out', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(file, { sealPollInterval: 0 })
    await dlq.log({ n: 1 }, 'x')
    await dlq.close()
    const s = await replay(file, () => new Promise<void>((r) => setImmediate(r)), { handlerTimeout: MAX, checkpointInterval: MAX, sealTimeout: MAX, retryDelay: MAX })
    expect(s).toMatchObject({ delivered: 1, requeued: 0 })
  })
})

describe('startReplayer interval', () => {
  for (const value of tooLong) {
    it(`${JSON.stringify(value)} is rejected`, async () => {
      const dlq = await Logger.open(path.join(tmpDir(), 'orders.log'), { sealPollInterval: 0 })
      open.push(dlq)
      let runs = 0
      let err: unknown
      try {
        dlq.startReplayer(() => {}, { interval: value, onRun: () => void runs++ })
      } catch (e) {
        err = e
      }
      expectTooLong(err, 'interval')
      expect(runs).toBe(0)
    })
  }

  it('the same limit applies to the replay options it passes on', async () => {
    const dlq = await Logger.open(path.join(tmpDir(), 'orders.log'), { sealPollInterval: 0 })
    open.push(dlq)
    let err: unknown
    try {
      dlq.startReplayer(() => {}, { interval: '1s', handlerTimeout: '30d' })
    } catch (e) {
      err = e
    }
    expectTooLong(err, 'handlerTimeout')
  })

  it('2^31−1 ms is accepted and does not run before its time', async () => {
    const dlq = await Logger.open(path.join(tmpDir(), 'orders.log'), { sealPollInterval: 0 })
    open.push(dlq)
    let runs = 0
    const stop = dlq.startReplayer(() => {}, { interval: MAX, onRun: () => void runs++ })
    await new Promise((r) => setImmediate(r))
    await stop()
    expect(runs).toBe(0)
  })
})
