import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger, type JsonOut } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { ByteSink, needsEscape } from '../src/format/sink.js'
import { tmpDir } from './helpers/tmp.js'

describe('ByteSink', () => {
  it('grows past its initial size and keeps what was written', () => {
    const s = new ByteSink(4)
    s.ascii('abc')
    s.utf8('é'.repeat(100))
    s.byte(0x21)
    expect(s.view().toString('utf8')).toBe('abc' + 'é'.repeat(100) + '!')
    expect(s.len).toBe(3 + 200 + 1)
  })

  it('writes unsigned integers digit by digit', () => {
    for (const n of [0, 7, 9, 10, 99, 100, 12345, 1732252800000, Number.MAX_SAFE_INTEGER]) {
      const s = new ByteSink(1)
      s.uint(n)
      expect(s.view().toString()).toBe(String(n))
    }
  })

  it('writes other numbers as JavaScript prints them', () => {
    for (const n of [-1, 1.5, -0.25, 1e21, 2 ** 53 + 2]) {
      const s = new ByteSink(1)
      s.number(n)
      expect(JSON.parse(s.view().toString())).toBe(n)
    }
  })

  it('writes JSON string literals that JSON.parse reads back exactly', () => {
    const cases = ['', 'plain', 'q"uote', 'back\\slash', 'nl\n', '\u0000\u001f', '\ud800', 'x\udfff', '😀', 'naïve', '\u2028']
    for (const c of cases) {
      const s = new ByteSink(2)
      s.jsonString(c)
      expect(JSON.parse(s.view().toString('utf8'))).toBe(c)
    }
  })

  it('needsEscape spots control characters, quotes, backslashes and surrogates', () => {
    expect(needsEscape('hello world')).toBe(false)
    expect(needsEscape('café 日本')).toBe(false)
    for (const c of ['"', '\\', '\n', '\t', '\u0000', '\u001f', '\ud83d\ude00', '\udc00']) expect(needsEscape(`a${c}b`)).toBe(true)
  })

  it('reset() empties the sink and gives back a buffer grown by a huge record', () => {
    const s = new ByteSink(16)
    s.utf8('x'.repeat(10_000))
    expect(s.buf.length).toBeGreaterThan(16 * 16)
    s.reset()
    expect(s.len).toBe(0)
    expect(s.buf.length).toBe(16)
    s.ascii('ok')
    expect(s.view().toString()).toBe('ok')
  })

  it('truncating len rolls back a partly written record', () => {
    const s = new ByteSink(8)
    s.ascii('keep;')
    const mark = s.len
    s.utf8('discard this, even after growing the buffer '.repeat(10))
    s.len = mark
    s.ascii('next')
    expect(s.view().toString()).toBe('keep;next')
  })
})

describe('sink rollback inside the Logger', () => {
  const open: Logger[] = []
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close()
  })

  it('a failed record between good ones in the same tick leaves no bytes; the others are intact', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(file, { sealPollInterval: 0 })
    open.push(dlq)
    const circular: Record<string, unknown> = {}
    circular.me = circular
    // All calls in one synchronous run: they share one sink and one group-commit batch.
    const results = await Promise.allSettled([
      dlq.log({ n: 1 }, 'a'),
      dlq.log(circular, 'bad-circular'),
      dlq.log({ n: 2 }, 'b'),
      dlq.log({ toDeadLetter: (o: JsonOut) => void o.beginObject().key('half').string('x'.repeat(100_000)) }, 'bad-open'),
      dlq.log({ n: 3 }, 'c'),
      dlq.log({ big: 10n }, 'bad-bigint'),
      dlq.log({ toDeadLetter: () => { throw new Error('boom') } }, 'bad-throws'),
      dlq.log('x'.repeat(17 * 1024 * 1024), 'bad-too-large'),
      dlq.log({ n: 4 }, 'd'),
    ])
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'rejected',
      'rejected',
      'fulfilled',
    ])
    const codes = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)
    expect(codes).toEqual(['DLQ_SERIALIZE', 'DLQ_SERIALIZE', 'DLQ_SERIALIZE', 'DLQ_SERIALIZE', 'DLQ_RECORD_TOO_LARGE'])
    const text = fs.readFileSync(file, 'utf8')
    expect(text).not.toContain('bad-')
    expect(text).not.toContain('half')
    const envs = text.trimEnd().split('\n').map(parseEnvelope)
    expect(envs.map((e) => [e.reason, e.payload])).toEqual([
      ['a', { n: 1 }],
      ['b', { n: 2 }],
      ['c', { n: 3 }],
      ['d', { n: 4 }],
    ])
  })

  it('a failure in the permanent log does not disturb the retry log batch, and vice versa', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    const dlq = await Logger.open(file, { sealPollInterval: 0 })
    open.push(dlq)
    const r = await Promise.allSettled([
      dlq.log(1, 'r1'),
      dlq.logPermanent({ b: 1n }, 'p-bad'),
      dlq.logPermanent(2, 'p2'),
      dlq.log({ b: 1n }, 'r-bad'),
      dlq.log(3, 'r3'),
    ])
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
    const retry = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map(parseEnvelope)
    const perm = fs.readFileSync(path.join(dir, 'permanent-orders.log'), 'utf8').trimEnd().split('\n').map(parseEnvelope)
    expect(retry.map((e) => e.reason)).toEqual(['r1', 'r3'])
    expect(perm.map((e) => e.reason)).toEqual(['p2'])
  })
})
