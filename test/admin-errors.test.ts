/**
 * Bad input to the admin functions rejects with a DeadLetterError and a stable code, before
 * anything is read or changed: unknown keys, wrong types, a bad time, a missing log.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeadLetterError, inspect, purge, requeue, stats } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { buildAdminLog } from './fixtures/admin-log.js'
import { snapshot } from './fixtures/cli-util.js'

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DeadLetterError)
  return (err as DeadLetterError).code
}

async function drain(it: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of it);
}

// Deliberately wrong input, as JavaScript callers can pass it.
const loose = <T>(v: unknown) => v as T

describe('admin functions reject bad input with a DLQ_ code', () => {
  it('unknown option or filter keys', async () => {
    const b = buildAdminLog(tmpDir())
    const before = snapshot(path.dirname(b.log))
    expect(await codeOf(stats(b.log, loose({ tops: 3 })))).toBe('DLQ_INVALID_OPTION')
    expect(await codeOf(drain(inspect(b.log, loose({ reasons: /x/ }))))).toBe('DLQ_INVALID_OPTION')
    expect(await codeOf(requeue(b.log, loose({ reasons: 'legacy' })))).toBe('DLQ_INVALID_OPTION')
    expect(await codeOf(purge(b.log, loose({ kind: 'permanent', olderthan: '30d' })))).toBe('DLQ_INVALID_OPTION')
    // A typo never widens a purge to everything.
    expect(snapshot(path.dirname(b.log))).toEqual(before)
    const err = (await purge(b.log, loose({ kind: 'permanent', reasn: 'x' })).catch((e: unknown) => e)) as Error
    expect(err.message).toMatch(/unknown purge\(\) option `reasn`/)
  })

  it('wrong types and values, naming the option', async () => {
    const b = buildAdminLog(tmpDir())
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [stats(b.log, loose({ top: 0 })), /`top`/],
      [stats(b.log, loose({ maxRecordSize: 'huge' })), /`maxRecordSize`/],
      [stats(b.log, loose({ maxRecordSize: 10 })), /at least 64 bytes/],
      [stats(b.log, loose({ signal: {} })), /`signal`/],
      [drain(inspect(b.log, loose({ kind: 'retries' }))), /`kind`/],
      [drain(inspect(b.log, loose({ reason: 42 }))), /`reason`/],
      [drain(inspect(b.log, loose({ id: [] }))), /`id`/],
      [drain(inspect(b.log, loose({ id: ['a', 1] }))), /`id`/],
      [drain(inspect(b.log, { since: 'yesterday' })), /`since`/],
      [drain(inspect(b.log, { until: new Date('nope') })), /`until`/],
      [drain(inspect(b.log, { olderThan: -5 })), /`olderThan`/],
      [drain(inspect(b.log, { until: 1, olderThan: '1d' })), /`until` and `olderThan`/],
      [drain(inspect(b.log, { limit: 1.5 })), /`limit`/],
      [drain(inspect(b.log, { skip: -1 })), /`skip`/],
      [drain(inspect(b.log, { order: 'newest' })), /needs a `limit`/],
      [drain(inspect(b.log, { kind: 'corrupt', id: 'x' })), /`id`/],
      [drain(inspect(b.log, { kind: 'corrupt', attempt: 2 })), /`attempt`/],
      [requeue(b.log, loose({ resetAttempts: 'yes' })), /`resetAttempts`/],
      [requeue(b.log, loose({ onProgress: 1 })), /`onProgress`/],
      [purge(b.log, loose({})), /needs option `kind`/],
      [purge(b.log, loose({ kind: 'retry' })), /`kind`/],
      [purge(b.log, loose(undefined)), /needs option `kind`/],
      [stats(b.log, loose('fast')), /options must be an object/],
    ]
    for (const [p, msg] of cases) {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, String(msg)).toBeInstanceOf(DeadLetterError)
      expect(err, String(msg)).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
      expect((err as Error).message, String(msg)).toMatch(msg)
    }
  })

  it('a missing log path, a directory, a directory that does not exist', async () => {
    const dir = tmpDir()
    expect(await codeOf(stats(loose(undefined)))).toBe('DLQ_INVALID_ARGUMENT')
    expect(await codeOf(stats(''))).toBe('DLQ_INVALID_ARGUMENT')
    expect(await codeOf(requeue(dir))).toBe('DLQ_INVALID_ARGUMENT')
    const missing = path.join(dir, 'nope', 'orders.log')
    expect(await codeOf(stats(missing))).toBe('DLQ_NOT_FOUND')
    expect(await codeOf(drain(inspect(missing)))).toBe('DLQ_NOT_FOUND')
    expect(await codeOf(requeue(missing))).toBe('DLQ_NOT_FOUND')
    expect(await codeOf(purge(missing, { kind: 'corrupt' }))).toBe('DLQ_NOT_FOUND')
    expect(fs.existsSync(path.join(dir, 'nope'))).toBe(false)
  })

  it('an existing directory without files of the log is an empty log, not an error', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    expect((await stats(log)).retry.count).toBe(0)
    expect(await requeue(log)).toMatchObject({ count: 0, backend: { segments: 0 } })
  })

  it('stats with an aborted signal rejects with DLQ_ABORTED', async () => {
    const b = buildAdminLog(tmpDir())
    const ac = new AbortController()
    ac.abort()
    expect(await codeOf(stats(b.log, { signal: ac.signal }))).toBe('DLQ_ABORTED')
  })
})
