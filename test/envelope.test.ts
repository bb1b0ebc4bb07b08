import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { encodeHeader, encodeTrailer, EnvelopeParseError, parseEnvelope, rawPayloadOf } from '../src/format/envelope.js'
import { ByteSink } from '../src/format/sink.js'
import { tmpDir } from './helpers/tmp.js'

const TS = 1732252800000
const open: Logger[] = []

async function openLog(opts: Parameters<typeof Logger.open>[1] = {}): Promise<{ dlq: Logger; file: string }> {
  const file = path.join(tmpDir(), 'orders.log')
  const dlq = await Logger.open(file, { now: () => TS, sealPollInterval: 0, ...opts })
  open.push(dlq)
  return { dlq, file }
}

afterEach(async () => {
  for (const d of open.splice(0)) await d.close()
})

/** The raw text of a file, split into lines, asserting it ends with a newline. */
function lines(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8')
  expect(text.endsWith('\n')).toBe(true)
  return text.slice(0, -1).split('\n')
}

describe('envelope format on disk', () => {
  it('is exactly {"ts","attempt","reason","payload"} on one line, payload last', async () => {
    const { dlq, file } = await openLog()
    await dlq.log({ orderId: 42, items: [1, 2] }, 'timeout')
    expect(fs.readFileSync(file, 'utf8')).toBe(
      `{"ts":${TS},"attempt":1,"reason":"timeout","payload":{"orderId":42,"items":[1,2]}}\n`,
    )
  })

  it('writes the optional header fields in a fixed order, before the payload', async () => {
    const { dlq, file } = await openLog()
    const err = Object.assign(new TypeError('socket hang up'), { code: 'ECONNRESET' })
    await dlq.log('p', err, 3, { id: 'ord-7' })
    expect(fs.readFileSync(file, 'utf8')).toBe(
      `{"ts":${TS},"attempt":3,"reason":"socket hang up","id":"ord-7","errorName":"TypeError","errorCode":"ECONNRESET","payload":"p"}\n`,
    )
    const env = parseEnvelope(lines(file)[0])
    expect(Object.keys(env).at(-1)).toBe('payload')
  })

  it('writes one record per line, each valid JSON, in call order for sequential calls', async () => {
    const { dlq, file } = await openLog()
    for (let i = 0; i < 20; i++) await dlq.log({ i }, `r${i}`, i + 1)
    const ls = lines(file)
    expect(ls).toHaveLength(20)
    ls.forEach((l, i) => {
      const e = parseEnvelope(l)
      expect(e).toEqual({ ts: TS, attempt: i + 1, reason: `r${i}`, payload: { i } })
    })
  })
})

describe('reason', () => {
  it('takes a plain Error message without errorName', async () => {
    const { dlq, file } = await openLog()
    await dlq.log(1, new Error('boom'))
    const e = parseEnvelope(lines(file)[0])
    expect(e.reason).toBe('boom')
    expect(e.errorName).toBeUndefined()
    expect(e.errorCode).toBeUndefined()
  })

  it('records errorName for Error subclasses and custom names', async () => {
    const { dlq, file } = await openLog()
    class HttpError extends Error {
      override name = 'HttpError'
    }
    await dlq.log(1, new RangeError('out of range'))
    await dlq.log(2, new HttpError('502 bad gateway'))
    const [a, b] = lines(file).map(parseEnvelope)
    expect(a).toMatchObject({ reason: 'out of range', errorName: 'RangeError' })
    expect(b).toMatchObject({ reason: '502 bad gateway', errorName: 'HttpError' })
  })

  it('records errorCode only when the error has a string code', async () => {
    const { dlq, file } = await openLog()
    await dlq.log(1, Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))
    await dlq.log(2, Object.assign(new Error('http'), { code: 503 }))
    const [a, b] = lines(file).map(parseEnvelope)
    expect(a).toMatchObject({ reason: 'refused', errorCode: 'ECONNREFUSED' })
    expect(a.errorName).toBeUndefined()
    expect(b.reason).toBe('http')
    expect(b.errorCode).toBeUndefined()
  })

  it('records a string reason as is', async () => {
    const { dlq, file } = await openLog()
    await dlq.log(1, 'card declined')
    expect(parseEnvelope(lines(file)[0]).reason).toBe('card declined')
  })

  it('records null and undefined reasons as null instead of crashing', async () => {
    const { dlq, file } = await openLog()
    await dlq.log(1, null)
    await dlq.log(2, undefined)
    await dlq.log(3)
    const es = lines(file).map(parseEnvelope)
    expect(es.map((e) => e.reason)).toEqual([null, null, null])
    expect(lines(file)[0]).toContain('"reason":null')
  })

  it('records an error-like object by its message and anything else as a string', async () => {
    const { dlq, file } = await openLog()
    await dlq.log(1, { message: 'from a plain object' })
    await dlq.log(2, 404)
    const [a, b] = lines(file).map(parseEnvelope)
    expect(a.reason).toBe('from a plain object')
    expect(b.reason).toBe('404')
  })
})

describe('strings that need escaping round-trip through JSON.parse', () => {
  const samples: Record<string, string> = {
    quotes: 'say "hi" \\ back\\slash',
    newlines: 'line1\nline2\r\nline3',
    control: 'a\u0000b\u0001c\u001fd\te\bf',
    loneHigh: 'x\ud800y',
    loneLow: 'x\udc00y',
    emoji: 'ok 😀 👍🏽',
    nonAscii: 'café — naïve — 日本語 — ω',
    separators: 'a\u2028b\u2029c',
    plain: 'nothing to escape',
  }
  for (const [name, s] of Object.entries(samples)) {
    it(`${name} in reason, id and payload`, async () => {
      const { dlq, file } = await openLog()
      await dlq.log({ s, [s]: 1 }, s, 1, { id: s })
      await dlq.log(s, new Error(s))
      const ls = lines(file)
      expect(ls).toHaveLength(2) // no raw newline leaked into the file
      const a = parseEnvelope(ls[0])
      const b = parseEnvelope(ls[1])
      // JSON.stringify turns lone surrogates into \uXXXX escapes, so they survive exactly.
      expect(a.reason).toBe(s)
      expect(a.id).toBe(s)
      expect(a.payload).toEqual({ s, [s]: 1 })
      expect(b.payload).toBe(s)
      expect(b.reason).toBe(s)
    })
  }
})

describe('attempt and id validation', () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity, '2', 2 ** 53]) {
    it(`rejects attempt ${String(bad)} with DLQ_INVALID_ARGUMENT and writes nothing`, async () => {
      const { dlq, file } = await openLog()
      await expect(dlq.log({ a: 1 }, 'x', bad as number)).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
      await expect(dlq.logPermanent({ a: 1 }, 'x', bad as number)).rejects.toMatchObject({
        code: 'DLQ_INVALID_ARGUMENT',
      })
      await dlq.flush()
      expect(fs.readFileSync(file, 'utf8')).toBe('')
    })
  }

  it('rejects an id that is neither a string nor a finite number with DLQ_INVALID_ARGUMENT', async () => {
    const { dlq } = await openLog()
    for (const id of [{ n: 7 }, NaN, true]) {
      await expect(dlq.log(1, 'x', 1, { id: id as unknown as string })).rejects.toMatchObject({
        code: 'DLQ_INVALID_ARGUMENT',
      })
    }
  })

  it('records large attempt numbers exactly', async () => {
    const { dlq, file } = await openLog()
    await dlq.log(1, 'x', 1234567)
    expect(parseEnvelope(lines(file)[0]).attempt).toBe(1234567)
  })
})

describe('encodeHeader / parseEnvelope / rawPayloadOf', () => {
  function encode(payload: string, extra?: Parameters<typeof encodeHeader>[5], id?: string): string {
    const sink = new ByteSink(16)
    encodeHeader(sink, TS, 2, 'why', id, extra)
    sink.utf8(payload)
    encodeTrailer(sink)
    return sink.view().toString('utf8')
  }

  it('encodes every header field in order and ends the line', () => {
    const line = encode('{"a":1}', { ts: 0, attempt: 0, reason: null, firstTs: 1, dueTs: 2, errorName: 'E', errorCode: 'C', final: 'exhausted' }, 'k')
    expect(line).toBe(
      `{"ts":${TS},"attempt":2,"reason":"why","id":"k","firstTs":1,"dueTs":2,"errorName":"E","errorCode":"C","final":"exhausted","payload":{"a":1}}\n`,
    )
    expect(parseEnvelope(line.trimEnd())).toMatchObject({ firstTs: 1, dueTs: 2, final: 'exhausted', payload: { a: 1 } })
  })

  it('rawPayloadOf returns the payload bytes exactly as written', () => {
    const payload = '{"b":2,"a":[1,{"x":"y, \\"payload\\":"}],"n":1.50}'
    const line = encode(payload).trimEnd()
    expect(rawPayloadOf(line, parseEnvelope(line))).toBe(payload)
  })

  it('parseEnvelope rejects lines that are not envelopes, describing the problem', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"ts":1,"attempt":1,"reason":null,"payload":{"a"', /invalid JSON/],
      ['[1,2]', /not a JSON object/],
      ['{"attempt":1,"reason":null,"payload":1}', /"ts"/],
      ['{"ts":1,"attempt":-1,"reason":null,"payload":1}', /"attempt"/],
      ['{"ts":1,"attempt":1,"reason":5,"payload":1}', /"reason"/],
      ['{"ts":1,"attempt":1,"reason":null}', /"payload"/],
      ['{"ts":1,"attempt":1,"reason":null,"final":"whenever","payload":1}', /"final"/],
    ]
    for (const [line, msg] of cases) {
      expect(() => parseEnvelope(line)).toThrow(EnvelopeParseError)
      expect(() => parseEnvelope(line)).toThrow(msg)
    }
  })
})
