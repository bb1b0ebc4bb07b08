/**
 * Replay outcomes per item: requeue with backoff, exhaustion, deferral, PermanentError,
 * in-place retries (p-retry), ttl expiry. Time is driven through the `now` and `random`
 * options; nothing sleeps.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, PermanentError, replay } from '../src/index.js'
import { Replayer } from '../src/replay/index.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, permanentRecords, retryRecords, writeSegment } from './fixtures/replay-util.js'

const NOW = 1_800_000_000_000
const HOUR = 3_600_000

function logIn(dir: string): string {
  return path.join(dir, 'orders.log')
}

function codeError(name: string, message: string, code?: string): Error {
  const e = new Error(message)
  e.name = name
  if (code) (e as Error & { code: string }).code = code
  return e
}

/** The lineage a re-log writes for an item first logged (envLine's defaults) at ts 1000, attempt 1, reason 'boom'. */
const boomFirst = { firstReason: { reason: 'boom' }, history: [{ ts: 1000, attempt: 1, reason: 'boom' }] }

describe('a failed item is re-logged', () => {
  it('with attempt + 1, the new reason, dueTs = now + backoff + jitter, id and firstTs kept, payload bytes unchanged', async () => {
    const log = logIn(tmpDir())
    // Hand-written payload formatting (spaces, escapes, number spelling) must survive byte for byte.
    const oddPayload = '{"x" : [1, 2.50, "é\\u00e9\\n"],  "y":null, "z":{"payload":1}}'
    const lines = [
      `{"ts":1000,"attempt":1,"reason":"orig","id":"a","payload":${oddPayload}}`,
      envLine({ ts: 2000, attempt: 3, firstTs: 500, id: 'b', payload: [1, 'two'] }),
      envLine({ ts: 3000, attempt: 7, firstTs: 400, payload: 'c' }),
    ]
    writeSegment(log, 1, lines)
    const s = await replay(
      log,
      () => {
        throw codeError('TypeError', 'socket hang up', 'ECONNRESET')
      },
      { now: () => NOW, random: () => 0.5, maxAttempts: 10, initialWait: 1000, maxWait: 30_000 },
    )
    expect(s).toMatchObject({ handled: 3, due: 3, requeued: 3, delivered: 0, permanent: 0 })
    const out = retryRecords(log).map((r) => r.line)
    // Each also records its first reason and the attempt that just ended (src/format/lineage.ts).
    const lineage = (ts: number, attempt: number, reason: string) => `"firstReason":{"reason":"${reason}"},"history":[{"ts":${ts},"attempt":${attempt},"reason":"${reason}"}]`
    expect(out).toEqual([
      `{"ts":${NOW},"attempt":2,"reason":"socket hang up","id":"a","firstTs":1000,"dueTs":${NOW + 1000 + 50},"errorName":"TypeError","errorCode":"ECONNRESET",${lineage(1000, 1, 'orig')},"payload":${oddPayload}}`,
      `{"ts":${NOW},"attempt":4,"reason":"socket hang up","id":"b","firstTs":500,"dueTs":${NOW + 4000 + 200},"errorName":"TypeError","errorCode":"ECONNRESET",${lineage(2000, 3, 'boom')},"payload":[1,"two"]}`,
      // attempt 7: 1000·2^6 = 64 s, capped at maxWait 30 s.
      `{"ts":${NOW},"attempt":8,"reason":"socket hang up","firstTs":400,"dueTs":${NOW + 30_000 + 1500},"errorName":"TypeError","errorCode":"ECONNRESET",${lineage(3000, 7, 'boom')},"payload":"c"}`,
    ])
  })

  it('into a replayer-owned segment (orders.rNNN.log), never the active file', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(logIn(dir), { sealPollInterval: 0 })
    try {
      await dlq.log({ k: 1 }, 'first')
      await dlq.replay(() => {
        throw new Error('again')
      })
      const recs = retryRecords(logIn(dir))
      expect(recs.map((r) => r.file)).toEqual(['orders.r000000000001.log'])
      expect(recs[0].obj).toMatchObject({ attempt: 2, reason: 'again', payload: { k: 1 } })
    } finally {
      await dlq.close()
    }
  })
})

describe('maxAttempts counts every attempt, the original failure included', () => {
  it('default 5: the handler runs 4 times, then the item is permanent with the last reason', async () => {
    const log = logIn(tmpDir())
    writeSegment(log, 1, [envLine({ ts: 1000, attempt: 1, id: 'only', payload: { v: 1 } })])
    let now = NOW
    let calls = 0
    for (let run = 1; run <= 6; run++) {
      const s = await replay(
        log,
        () => {
          calls++
          throw new Error(`fail #${calls}`)
        },
        { now: () => now, random: () => 0 },
      )
      if (run <= 3) expect(s).toMatchObject({ requeued: 1, permanent: 0 })
      if (run === 4) expect(s).toMatchObject({ requeued: 0, permanent: 1 })
      if (run > 4) expect(s.handled).toBe(0)
      now += HOUR
    }
    expect(calls).toBe(4)
    expect(retryRecords(log)).toEqual([])
    const perm = permanentRecords(log)
    expect(perm).toHaveLength(1)
    expect(perm[0].obj).toEqual({
      ts: NOW + 3 * HOUR, attempt: 5, reason: 'fail #4', id: 'only', firstTs: 1000, final: 'exhausted',
      // The first reason and the attempts before the last one (src/format/lineage.ts).
      firstReason: { reason: 'boom' },
      history: [
        { ts: 1000, attempt: 1, reason: 'boom' },
        { ts: NOW, attempt: 2, reason: 'fail #1' },
        { ts: NOW + HOUR, attempt: 3, reason: 'fail #2' },
        { ts: NOW + 2 * HOUR, attempt: 4, reason: 'fail #3' },
      ],
      payload: { v: 1 },
    })
    expect(perm[0].file).toMatch(/^permanent-orders\.r\d{12}\.log$/)
  })

  it('an item already at maxAttempts goes to the permanent log without calling the handler', async () => {
    const log = logIn(tmpDir())
    writeSegment(log, 1, [
      envLine({ attempt: 5, reason: 'old', payload: 'at-default-max' }),
      envLine({ attempt: 9, reason: 'older', payload: 'way-over' }),
      envLine({ attempt: 4, payload: 'one-left' }),
    ])
    const called: unknown[] = []
    const s = await replay(log, (p) => {
      called.push(p)
    }, { now: () => NOW })
    expect(called).toEqual(['one-left'])
    expect(s).toMatchObject({ handled: 3, due: 1, delivered: 1, permanent: 2 })
    expect(permanentRecords(log).map((r) => [r.obj.payload, r.obj.attempt, r.obj.reason, r.obj.final])).toEqual([
      ['at-default-max', 5, 'old', 'exhausted'],
      ['way-over', 9, 'older', 'exhausted'],
    ])
  })

  it('maxAttempts: 2 — one replay attempt, then permanent', async () => {
    const log = logIn(tmpDir())
    writeSegment(log, 1, [envLine({ attempt: 1, payload: 'x' })])
    const s = await replay(log, () => {
      throw new Error('nope')
    }, { maxAttempts: 2, now: () => NOW })
    expect(s).toMatchObject({ permanent: 1, requeued: 0 })
    expect(permanentRecords(log)[0].obj).toMatchObject({ attempt: 2, reason: 'nope', final: 'exhausted' })
  })
})

describe('deferral', () => {
  it('carries a not-yet-due item forward byte-identical, without calling the handler or waiting for it', async () => {
    const log = logIn(tmpDir())
    const notDue = `{"ts":1000,"attempt":2,"reason":"r","id":"later","firstTs":900,"dueTs":${NOW + 10 * HOUR},"payload":{"a" : 1}}`
    const due = envLine({ attempt: 2, dueTs: NOW - 1, payload: 'due' })
    writeSegment(log, 1, [notDue, due])
    const called: unknown[] = []
    // Ten hours in the future: a run that slept would hit the test timeout.
    const s = await replay(log, (p) => {
      called.push(p)
    }, { now: () => NOW })
    expect(called).toEqual(['due'])
    expect(s).toMatchObject({ handled: 2, deferred: 1, delivered: 1, requeued: 0 })
    const carried = retryRecords(log)
    expect(carried.map((r) => r.line)).toEqual([notDue])
    expect(carried[0].file).toMatch(/^orders\.r\d{12}\.log$/)
    // Once due, it is delivered.
    const later = await replay(log, (p) => {
      called.push(p)
    }, { now: () => NOW + 11 * HOUR })
    expect(later).toMatchObject({ delivered: 1, deferred: 0 })
    expect(called).toEqual(['due', { a: 1 }])
    expect(retryRecords(log)).toEqual([])
  })
})

describe('handler failures', () => {
  it('PermanentError sends the item straight to the permanent log, even with attempts and retries left', async () => {
    const log = logIn(tmpDir())
    writeSegment(log, 1, [envLine({ payload: 1, id: 'p1' }), envLine({ payload: 2, id: 'p2' })])
    // A PermanentError from another copy of the package is recognised by name.
    class PermanentErrorCopy extends Error {
      override name = 'PermanentError'
    }
    let calls = 0
    const s = await replay(
      log,
      (p) => {
        calls++
        throw p === 1 ? new PermanentError('bad data') : new PermanentErrorCopy('also bad')
      },
      { retries: 5, retryDelay: 0, maxAttempts: 100, now: () => NOW },
    )
    expect(calls).toBe(2)
    expect(s).toMatchObject({ permanent: 2, requeued: 0 })
    expect(permanentRecords(log).map((r) => r.obj)).toEqual([
      { ts: NOW, attempt: 2, reason: 'bad data', id: 'p1', firstTs: 1000, errorName: 'PermanentError', final: 'permanent', ...boomFirst, payload: 1 },
      { ts: NOW, attempt: 2, reason: 'also bad', id: 'p2', firstTs: 1000, errorName: 'PermanentError', final: 'permanent', ...boomFirst, payload: 2 },
    ])
  })

  it.each([
    ['undefined', undefined, null],
    ['null', null, null],
    ['a string', 'plain string', 'plain string'],
    ['a number', 42, '42'],
    ['an object with a message (recorded like log() records it)', { message: 'obj' }, 'obj'],
    ['an object without a message', { code: 7 }, '[object Object]'],
  ])('a handler throwing %s is a failure, never a delivery', async (_name, thrown, reason) => {
    for (const retries of [0, 2]) {
      const log = logIn(tmpDir())
      writeSegment(log, 1, [envLine({ payload: 'x' })])
      let calls = 0
      const s = await replay(
        log,
        () => {
          calls++
          return Promise.reject(thrown)
        },
        { retries, retryDelay: 0, now: () => NOW },
      )
      expect(calls).toBe(retries + 1)
      expect(s).toMatchObject({ delivered: 0, requeued: 1 })
      expect(retryRecords(log)[0].obj).toMatchObject({ attempt: 2, reason })
    }
  })

  it('retries in place through p-retry for every error kind (TypeError, non-Error throws) until success', async () => {
    const log = logIn(tmpDir())
    writeSegment(log, 1, [envLine({ payload: 'flaky' })])
    const throws: unknown[] = [new TypeError('t'), 'str', { weird: true }, new RangeError('r'), undefined]
    let calls = 0
    const s = await replay(
      log,
      () => {
        if (calls < throws.length) throw throws[calls++]
        calls++
      },
      { retries: throws.length, retryDelay: 0 },
    )
    expect(calls).toBe(throws.length + 1)
    expect(s).toMatchObject({ delivered: 1, requeued: 0, due: 1 })
  })

  it('after the in-place retries are used up, re-logs once with the last error', async () => {
    const log = logIn(tmpDir())
    writeSegment(log, 1, [envLine({ payload: 'down' })])
    let calls = 0
    const s = await replay(
      log,
      () => {
        calls++
        throw new TypeError(`down ${calls}`)
      },
      { retries: 2, retryDelay: 0, now: () => NOW, random: () => 0 },
    )
    expect(calls).toBe(3)
    expect(s).toMatchObject({ requeued: 1, delivered: 0 })
    expect(retryRecords(log)[0].obj).toMatchObject({ attempt: 2, reason: 'down 3', errorName: 'TypeError', dueTs: NOW + 1000 })
  })

  it('a PermanentError during in-place retries stops them at once', async () => {
    const log = logIn(tmpDir())
    writeSegment(log, 1, [envLine({ payload: 'x' })])
    let calls = 0
    const s = await replay(
      log,
      () => {
        calls++
        throw calls === 1 ? new TypeError('transient') : new PermanentError('now permanent')
      },
      { retries: 10, retryDelay: 0 },
    )
    expect(calls).toBe(2)
    expect(s.permanent).toBe(1)
    expect(permanentRecords(log)[0].obj).toMatchObject({ reason: 'now permanent', final: 'permanent' })
  })

  it('the handler gets the envelope with its source segment and offset', async () => {
    const log = logIn(tmpDir())
    const lines = [envLine({ payload: 'a', id: 'A' }), envLine({ payload: 'b', id: 'B', attempt: 2, reason: 'why' })]
    writeSegment(log, 7, lines)
    const envs: unknown[] = []
    await new Replayer(log, (_p, env) => {
      envs.push({ ...env })
    }).run()
    expect(envs).toEqual([
      { ts: 1000, attempt: 1, reason: 'boom', id: 'A', payload: 'a', segment: 'orders.000000000007.log', offset: 0 },
      { ts: 1000, attempt: 2, reason: 'why', id: 'B', payload: 'b', segment: 'orders.000000000007.log', offset: Buffer.byteLength(lines[0]) + 1 },
    ])
  })
})

describe('ttl', () => {
  it('moves items whose first failure is older than ttl to the permanent log as expired, without calling the handler', async () => {
    const log = logIn(tmpDir())
    writeSegment(log, 1, [
      // Re-logged recently (ts) but first failed 3 h ago: expired.
      envLine({ ts: NOW - 60_000, firstTs: NOW - 3 * HOUR, attempt: 3, reason: 'last', id: 'old', payload: 'old' }),
      // No firstTs: ts is the first failure.
      envLine({ ts: NOW - 2 * HOUR - 1, payload: 'old-too' }),
      envLine({ ts: NOW - HOUR, payload: 'fresh' }),
      // Expiry wins over deferral.
      envLine({ ts: NOW - 5 * HOUR, dueTs: NOW + HOUR, payload: 'old-and-deferred' }),
    ])
    const called: unknown[] = []
    const expiredEvents: unknown[] = []
    const r = new Replayer(log, (p) => {
      called.push(p)
    }, { ttl: '2h', now: () => NOW })
    r.on('expired', (e) => expiredEvents.push(e.envelope?.payload))
    const s = await r.run()
    expect(called).toEqual(['fresh'])
    expect(s).toMatchObject({ handled: 4, expired: 3, permanent: 0, delivered: 1, deferred: 0 })
    expect(expiredEvents).toEqual(['old', 'old-too', 'old-and-deferred'])
    const perm = permanentRecords(log).map((x) => x.obj)
    expect(perm.map((x) => [x.payload, x.final, x.attempt, x.reason])).toEqual([
      ['old', 'expired', 3, 'last'],
      ['old-too', 'expired', 1, 'boom'],
      ['old-and-deferred', 'expired', 1, 'boom'],
    ])
    expect(perm[0]).toMatchObject({ id: 'old', firstTs: NOW - 3 * HOUR })
  })
})
