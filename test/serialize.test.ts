import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DeadLetterError, Logger, RawPayload, type JsonOut, type Loggable } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { tmpDir } from './helpers/tmp.js'

const open: Logger[] = []

async function openLog(opts: Parameters<typeof Logger.open>[1] = {}): Promise<{ dlq: Logger; file: string }> {
  const file = path.join(tmpDir(), 'orders.log')
  const dlq = await Logger.open(file, { sealPollInterval: 0, ...opts })
  open.push(dlq)
  return { dlq, file }
}

afterEach(async () => {
  for (const d of open.splice(0)) await d.close()
})

function payloads(file: string): unknown[] {
  const text = fs.readFileSync(file, 'utf8')
  if (text === '') return []
  expect(text.endsWith('\n')).toBe(true)
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => parseEnvelope(l).payload)
}

function rawLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0)
}

class Order implements Loggable {
  constructor(
    readonly id: number,
    readonly lines: Array<{ sku: string; qty: number }>,
    readonly meta: object,
  ) {}
  toDeadLetter(out: JsonOut): void {
    out.beginObject()
    out.key('id').number(this.id)
    out.key('ok').boolean(true)
    out.key('none').null()
    out.key('lines').beginArray()
    for (const l of this.lines) {
      out.beginObject().key('sku').string(l.sku).key('qty').number(l.qty).endObject()
    }
    out.endArray()
    out.key('empty').beginArray().endArray()
    out.key('nested').beginObject().key('deep').beginArray().number(1).beginArray().endArray().string('x').endArray().endObject()
    out.field('meta', this.meta)
    out.field('s', 'a "quoted"\nvalue')
    out.field('n', -1.25)
    out.field('b', false)
    out.field('u', undefined)
    out.field('fn', () => 1)
    out.key('raw').raw('{"pre":"serialized"}')
    out.endObject()
  }
}

describe('Loggable payloads (toDeadLetter with JsonOut)', () => {
  it('writes nested objects and arrays with commas inserted, and field() by type', async () => {
    const { dlq, file } = await openLog()
    const order = new Order(7, [{ sku: 'A-1', qty: 2 }, { sku: 'B"2', qty: 1 }], { tags: ['x', 'y'], n: null })
    await dlq.log(order, 'x')
    await dlq.log(new Order(8, [], {}), 'y')
    expect(payloads(file)).toEqual([
      {
        id: 7,
        ok: true,
        none: null,
        lines: [
          { sku: 'A-1', qty: 2 },
          { sku: 'B"2', qty: 1 },
        ],
        empty: [],
        nested: { deep: [1, [], 'x'] },
        meta: { tags: ['x', 'y'], n: null },
        s: 'a "quoted"\nvalue',
        n: -1.25,
        b: false,
        u: null,
        fn: null,
        raw: { pre: 'serialized' },
      },
      { id: 8, ok: true, none: null, lines: [], empty: [], nested: { deep: [1, [], 'x'] }, meta: {}, s: 'a "quoted"\nvalue', n: -1.25, b: false, u: null, fn: null, raw: { pre: 'serialized' } },
    ])
  })

  it('a Loggable may write a top-level array or scalar', async () => {
    const { dlq, file } = await openLog()
    await dlq.log({ toDeadLetter: (o: JsonOut) => o.beginArray().string('a').number(1).endArray() }, 'x')
    await dlq.log({ toDeadLetter: (o: JsonOut) => o.string('just a string') }, 'x')
    expect(payloads(file)).toEqual([['a', 1], 'just a string'])
  })

  it('a Loggable that throws rejects DLQ_SERIALIZE naming the cause and writes nothing', async () => {
    const { dlq, file } = await openLog()
    const bad: Loggable = {
      toDeadLetter(out) {
        out.beginObject().key('a').number(1)
        throw new Error('account lookup failed')
      },
    }
    const err = await dlq.log(bad, 'x').catch((e: DeadLetterError) => e)
    expect(err).toBeInstanceOf(DeadLetterError)
    expect((err as DeadLetterError).code).toBe('DLQ_SERIALIZE')
    expect((err as DeadLetterError).message).toContain('account lookup failed')
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('a Loggable that leaves an object open rejects DLQ_SERIALIZE and writes nothing', async () => {
    const { dlq, file } = await openLog()
    const bad: Loggable = { toDeadLetter: (o) => void o.beginObject().key('a').beginArray().number(1).endArray() }
    await expect(dlq.log(bad, 'x')).rejects.toMatchObject({ code: 'DLQ_SERIALIZE', message: expect.stringMatching(/open/) })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('a Loggable that writes NaN rejects DLQ_SERIALIZE', async () => {
    const { dlq, file } = await openLog()
    await expect(dlq.log({ toDeadLetter: (o: JsonOut) => o.beginObject().key('n').number(NaN).endObject() }, 'x')).rejects.toMatchObject({
      code: 'DLQ_SERIALIZE',
      message: expect.stringContaining('NaN'),
    })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('Loggables that would produce invalid JSON reject DLQ_SERIALIZE and write nothing', async () => {
    const { dlq, file } = await openLog()
    const bad: Array<[string, (o: JsonOut) => void]> = [
      ['writes no value at all', () => {}],
      ['writes two top-level values', (o) => void o.string('a').string('b')],
      ['writes a key at the top level', (o) => void o.key('k').number(1)],
      ['leaves a key without a value', (o) => void o.beginObject().key('k').endObject()],
      ['writes a value without a key inside an object', (o) => void o.beginObject().number(1).endObject()],
      ['writes a key inside an array', (o) => void o.beginArray().key('k').number(1).endArray()],
      ['closes an array with endObject', (o) => void o.beginArray().endObject()],
      ['closes more than it opened', (o) => void o.beginObject().endObject().endObject()],
      ['writes a raw value containing a newline', (o) => void o.raw('{\n"a": 1\n}')],
    ]
    for (const [what, fn] of bad) {
      const err = await dlq.log({ toDeadLetter: fn }, 'x').then(
        () => undefined,
        (e: DeadLetterError) => e,
      )
      expect(err?.code, what).toBe('DLQ_SERIALIZE')
    }
    await dlq.log({ toDeadLetter: (o: JsonOut) => o.beginObject().key('fine').boolean(true).endObject() }, 'x')
    // Only the last, valid record reached the file; the state of the shared JsonOut was reset.
    expect(payloads(file)).toEqual([{ fine: true }])
  })

  it('rejects absurdly deep nesting with DLQ_SERIALIZE', async () => {
    const { dlq, file } = await openLog()
    const deep: Loggable = {
      toDeadLetter(o) {
        for (let i = 0; i < 1000; i++) o.beginArray()
        for (let i = 0; i < 1000; i++) o.endArray()
      },
    }
    await expect(dlq.log(deep, 'x')).rejects.toMatchObject({ code: 'DLQ_SERIALIZE' })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })
})

describe('schema option (fast-json-stringify)', () => {
  const schema = {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      amount: { type: 'number' },
      note: { type: 'string' },
      tags: { type: 'array', items: { type: 'string' } },
    },
  }

  it('serializes through the compiled schema', async () => {
    const { dlq, file } = await openLog({ schema })
    await dlq.log({ id: 1, amount: 9.5, note: 'a "b"\nc', tags: ['x'] }, 'x')
    expect(payloads(file)).toEqual([{ id: 1, amount: 9.5, note: 'a "b"\nc', tags: ['x'] }])
  })

  it('drops properties that are not in the schema (documented fast-json-stringify behaviour)', async () => {
    const { dlq, file } = await openLog({ schema })
    await dlq.log({ id: 2, secret: 'not in schema', nested: { x: 1 } }, 'x')
    expect(payloads(file)).toEqual([{ id: 2 }])
    expect(fs.readFileSync(file, 'utf8')).not.toContain('secret')
  })

  it('rejects NaN in a number field with DLQ_SERIALIZE naming the value, writing nothing', async () => {
    const { dlq, file } = await openLog({ schema })
    await expect(dlq.log({ id: 3, amount: NaN }, 'x')).rejects.toMatchObject({
      code: 'DLQ_SERIALIZE',
      message: expect.stringContaining('NaN'),
    })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('Loggable and RawPayload bypass the schema', async () => {
    const { dlq, file } = await openLog({ schema })
    await dlq.log(new RawPayload('{"other":"shape"}'), 'x')
    await dlq.log({ toDeadLetter: (o: JsonOut) => o.beginObject().key('own').number(1).endObject() }, 'x')
    expect(payloads(file)).toEqual([{ other: 'shape' }, { own: 1 }])
  })
})

describe('JSON.stringify fallback', () => {
  it('serializes plain values of every JSON type', async () => {
    const { dlq, file } = await openLog()
    const values = [{ a: [1, { b: null }] }, [1, 'two', false], 'str', 'needs "escape"', 12.5, -3, true, null]
    for (const v of values) await dlq.log(v, 'x')
    expect(payloads(file)).toEqual(values)
  })

  it('records undefined as null and honours toJSON', async () => {
    const { dlq, file } = await openLog()
    await dlq.log(undefined, 'x')
    await dlq.log({ when: new Date(0) }, 'x')
    expect(payloads(file)).toEqual([null, { when: '1970-01-01T00:00:00.000Z' }])
  })

  it('rejects a circular payload with DLQ_SERIALIZE naming the cause, writing nothing', async () => {
    const { dlq, file } = await openLog()
    const a: Record<string, unknown> = { name: 'a' }
    a.self = a
    await expect(dlq.log(a, 'x')).rejects.toMatchObject({ code: 'DLQ_SERIALIZE', message: expect.stringMatching(/circular/i) })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('rejects a BigInt with DLQ_SERIALIZE naming the cause, writing nothing', async () => {
    const { dlq, file } = await openLog()
    await expect(dlq.log({ n: 10n }, 'x')).rejects.toMatchObject({ code: 'DLQ_SERIALIZE', message: expect.stringMatching(/BigInt/) })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('rejects a payload whose toJSON throws', async () => {
    const { dlq } = await openLog()
    await expect(
      dlq.log({ toJSON: () => { throw new Error('nope') } }, 'x'),
    ).rejects.toMatchObject({ code: 'DLQ_SERIALIZE', message: expect.stringContaining('nope') })
  })
})

describe('RawPayload', () => {
  it('writes already-serialized JSON as is', async () => {
    const { dlq, file } = await openLog()
    await dlq.log(new RawPayload('{"z":1,"a":[true,null]}'), 'x')
    expect(rawLines(file)[0]).toMatch(/"payload":\{"z":1,"a":\[true,null\]\}\}$/)
  })

  it('compacts pretty-printed JSON onto one line', async () => {
    const { dlq, file } = await openLog()
    const pretty = JSON.stringify({ a: 1, b: { c: [1, 2] }, s: 'x\ny' }, null, 2)
    expect(pretty).toContain('\n')
    const raw = new RawPayload(pretty)
    expect(raw.json).not.toMatch(/[\r\n]/)
    await dlq.log(raw, 'x')
    await dlq.log(new RawPayload('[1,\r\n2]'), 'x')
    expect(rawLines(file)).toHaveLength(2)
    expect(payloads(file)).toEqual([{ a: 1, b: { c: [1, 2] }, s: 'x\ny' }, [1, 2]])
  })

  it('rejects invalid JSON with DLQ_SERIALIZE at construction', () => {
    for (const bad of ['{bad', '', '{"a":1}{"b":2}', 'undefined', "{'a':1}"]) {
      let err: unknown
      try {
        new RawPayload(bad)
      } catch (e) {
        err = e
      }
      expect(err, bad).toBeInstanceOf(DeadLetterError)
      expect((err as DeadLetterError).code).toBe('DLQ_SERIALIZE')
      expect((err as DeadLetterError).message).toContain('not valid JSON')
    }
  })

  it('rejects a non-string with DLQ_INVALID_ARGUMENT', () => {
    expect(() => new RawPayload({ a: 1 } as unknown as string)).toThrow(
      expect.objectContaining({ code: 'DLQ_INVALID_ARGUMENT' }),
    )
  })
})

describe('maxRecordSize', () => {
  it('rejects a record over the limit with DLQ_RECORD_TOO_LARGE and writes nothing', async () => {
    const { dlq, file } = await openLog({ maxRecordSize: 1024 })
    await expect(dlq.log({ big: 'x'.repeat(2000) }, 'x')).rejects.toMatchObject({
      code: 'DLQ_RECORD_TOO_LARGE',
      message: expect.stringContaining('1024'),
    })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('counts the whole line (header + payload + newline) and accepts a record right at the limit', async () => {
    const { dlq, file } = await openLog({ maxRecordSize: 200, now: () => 1 })
    const header = '{"ts":1,"attempt":1,"reason":"x","payload":'
    // header + "…" + }\n is exactly 200 bytes.
    const fill = 200 - header.length - 2 - 2
    await dlq.log('a'.repeat(fill), 'x')
    await expect(dlq.log('a'.repeat(fill + 1), 'x')).rejects.toMatchObject({ code: 'DLQ_RECORD_TOO_LARGE' })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(200)
    expect(payloads(file)).toEqual(['a'.repeat(fill)])
  })

  it('measures bytes, not characters', async () => {
    const { dlq, file } = await openLog({ maxRecordSize: 256 })
    // 100 characters, 400 bytes in UTF-8.
    await expect(dlq.log('😀'.repeat(50), 'x')).rejects.toMatchObject({ code: 'DLQ_RECORD_TOO_LARGE' })
    await dlq.flush()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('applies to the permanent log too', async () => {
    const { dlq } = await openLog({ maxRecordSize: 1024 })
    await expect(dlq.logPermanent('x'.repeat(5000), 'x')).rejects.toMatchObject({ code: 'DLQ_RECORD_TOO_LARGE' })
  })
})
