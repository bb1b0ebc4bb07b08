/**
 * The opt-in stack: `keepStack` keeps the stack of an Error given to log() or thrown by a
 * handler as the envelope's `stack` — the latest failure's only, cut to `maxStackBytes` with a
 * marker — and nothing of it is written by default. Time is driven through `now`; nothing sleeps.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, inspect, replay } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { permanentRecords, retryRecords } from './fixtures/replay-util.js'

const NOW = 1_800_000_000_000

/** An Error whose stack is `frames` lines long (and so, past a point, over any cap). */
function deepError(message: string, frames: number): Error {
  const err = new Error(message)
  err.stack = `Error: ${message}\n` + Array.from({ length: frames }, (_, i) => `    at frame${i} (/srv/app/src/handler-ü-${i}.js:${i}:1)`).join('\n')
  return err
}

const records = (log: string) => retryRecords(log).map((r) => r.obj as unknown as Record<string, unknown>)

describe('keepStack', () => {
  it('is off by default: log() given an Error and a re-log of a thrown Error keep no stack', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    await dlq.log({ n: 1 }, new Error('timeout'))
    await dlq.close()
    expect(records(log)[0]).not.toHaveProperty('stack')
    await replay(log, () => { throw new Error('still down') }, { now: () => NOW, initialWait: 0 })
    const [rec] = records(log)
    expect(rec).toMatchObject({ attempt: 2, reason: 'still down' })
    expect(rec).not.toHaveProperty('stack')
  })

  it('keeps the Error stack given to log(), and a re-log keeps the latest failure\'s stack only', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log, { keepStack: true })
    const first = new Error('timeout')
    await dlq.log({ n: 1 }, first)
    // A string reason has no stack: nothing is written for it.
    await dlq.log({ n: 2 }, 'plain text')
    await dlq.flush()
    const logged = records(log)
    expect(logged[0]).toMatchObject({ reason: 'timeout', stack: first.stack })
    expect(logged[1]).not.toHaveProperty('stack')
    // dlq.replay takes the logger's keepStack.
    const thrown = new Error('upstream 503')
    const s = await dlq.replay(() => { throw thrown }, { now: () => NOW, initialWait: 0 })
    expect(s.requeued).toBe(2)
    await dlq.close()
    const [one, two] = records(log).sort((a, b) => (a.payload as { n: number }).n - (b.payload as { n: number }).n)
    expect(one).toMatchObject({ reason: 'upstream 503', stack: thrown.stack, firstReason: { reason: 'timeout' } })
    // The first failure's stack is not kept per attempt: the history has none.
    expect((one!.history as object[]).every((a) => !('stack' in a))).toBe(true)
    expect(two).toMatchObject({ reason: 'upstream 503', stack: thrown.stack })
    // A later failure without a stack (a thrown string) drops the earlier one: it was another failure's.
    await replay(log, () => { throw 'just text' }, { now: () => NOW + 1, initialWait: 0, keepStack: true })
    for (const r of records(log)) {
      expect(r.reason).toBe('just text')
      expect(r).not.toHaveProperty('stack')
    }
  })

  it('cuts a stack over maxStackBytes to at most that many UTF-8 bytes, with a marker', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log, { keepStack: true })
    const big = deepError('deep', 2000)
    expect(Buffer.byteLength(big.stack!)).toBeGreaterThan(8192)
    await dlq.log({ n: 1 }, big)
    await dlq.close()
    const [rec] = records(log)
    const stack = rec!.stack as string
    expect(Buffer.byteLength(stack)).toBeLessThanOrEqual(8192)
    expect(Buffer.byteLength(stack)).toBeGreaterThan(8192 - 64)
    expect(stack).toMatch(new RegExp(`… \\[truncated, ${Buffer.byteLength(big.stack!)} bytes total\\]$`))
    expect(big.stack!.startsWith(stack.slice(0, stack.indexOf('… [truncated')))).toBe(true)

    // Replay's own cap, on what a handler threw; the permanent record keeps it too.
    const s = await replay(log, () => { throw deepError('deeper', 500) }, { now: () => NOW, initialWait: 0, maxAttempts: 2, keepStack: true, maxStackBytes: '1K' })
    expect(s.permanent).toBe(1)
    const [perm] = permanentRecords(log).map((r) => r.obj as unknown as Record<string, unknown>)
    expect(Buffer.byteLength(perm!.stack as string)).toBeLessThanOrEqual(1024)
    expect(perm!.stack).toMatch(/^Error: deeper\n {4}at frame0 .*… \[truncated, \d+ bytes total\]$/s)

    // inspect (the library, and so --json's line) shows it.
    const entries = []
    for await (const e of inspect(log, { kind: 'permanent' })) entries.push(e)
    expect(entries[0]!.stack).toBe(perm!.stack)
  })

  it('rejects a bad keepStack or maxStackBytes as DLQ_INVALID_OPTION, on the Logger and on replay', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    for (const bad of [{ keepStack: 'yes' }, { maxStackBytes: 10 }, { maxStackBytes: 'lots' }, { maxStackBytes: -1 }]) {
      await expect(Logger.open(log, bad as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
      await expect(replay(log, () => {}, bad as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    }
  })
})
