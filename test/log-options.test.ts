/**
 * log() and logPermanent() take `{ attempt, id }` as their third argument, beside the
 * positional `(data, reason, attempt, { id })`. Anything else in those places is rejected with
 * DLQ_INVALID_ARGUMENT and writes nothing. An id is a string, or a finite number stored as its
 * string form.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { tmpDir } from './helpers/tmp.js'

const TS = 1732252800000
const open: Logger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => {})
})

async function openLog(): Promise<Logger> {
  const dlq = await Logger.open(path.join(tmpDir(), 'orders.log'), { now: () => TS, sealPollInterval: 0 })
  open.push(dlq)
  return dlq
}

function records(file: string): unknown[] {
  const text = fs.readFileSync(file, 'utf8')
  return text === '' ? [] : text.slice(0, -1).split('\n').map(parseEnvelope)
}

type Method = 'log' | 'logPermanent'
const fileOf = (dlq: Logger, m: Method): string => (m === 'log' ? dlq.path : dlq.paths.permanentActive)

describe.each<Method>(['log', 'logPermanent'])('%s(data, reason, options)', (m) => {
  it('takes attempt and id from the options object', async () => {
    const dlq = await openLog()
    await dlq[m]({ n: 1 }, 'r', { attempt: 3, id: 'ord-1' })
    await dlq.flush()
    expect(records(fileOf(dlq, m))).toEqual([expect.objectContaining({ attempt: 3, id: 'ord-1', reason: 'r', payload: { n: 1 } })])
  })

  it('defaults attempt to 1 when only an id is given, and writes no id when none is', async () => {
    const dlq = await openLog()
    await dlq[m]({ n: 1 }, 'r', { id: 'ord-2' })
    await dlq[m]({ n: 2 }, 'r', {})
    await dlq.flush()
    const [a, b] = records(fileOf(dlq, m)) as Array<Record<string, unknown>>
    expect(a).toMatchObject({ attempt: 1, id: 'ord-2' })
    expect(b).toMatchObject({ attempt: 1 })
    expect(b).not.toHaveProperty('id')
  })

  it('stores a numeric id as its string form, as the README quick start passes order.id', async () => {
    const dlq = await openLog()
    await dlq[m]({ n: 1 }, 'r', { id: 42 })
    await dlq[m]({ n: 2 }, 'r', 2, { id: -0.5 })
    await dlq.flush()
    const [a, b] = records(fileOf(dlq, m)) as Array<Record<string, unknown>>
    expect(a).toMatchObject({ attempt: 1, id: '42' })
    expect(b).toMatchObject({ attempt: 2, id: '-0.5' })
  })

  it('writes the same bytes as the positional form', async () => {
    const a = await openLog()
    const b = await openLog()
    await a[m]({ n: 1 }, 'r', 4, { id: 'x' })
    await b[m]({ n: 1 }, 'r', { attempt: 4, id: 'x' })
    await Promise.all([a.flush(), b.flush()])
    expect(fs.readFileSync(fileOf(b, m), 'utf8')).toBe(fs.readFileSync(fileOf(a, m), 'utf8'))
  })

  const bad: Array<[string, unknown[]]> = [
    ['an unknown option key', [{ attempts: 2 }]],
    ['a misspelt id key', [{ ID: 'x' }]],
    ['a fourth argument after an options object', [{ id: 'x' }, { id: 'y' }]],
    ['a string as the fourth argument', [1, 'ord-1']],
    ['a number as the fourth argument', [1, 7]],
    ['null as the fourth argument', [1, null]],
    ['an array as the fourth argument', [1, ['x']]],
    ['attempt in the fourth argument too', [2, { attempt: 3 }]],
    ['an unknown key in the fourth argument', [1, { id: 'x', ttl: 5 }]],
    ['a string as the third argument', ['2']],
    ['an array as the third argument', [[2]]],
    ['a bad attempt in the options', [{ attempt: 0 }]],
    ['a fractional attempt in the options', [{ attempt: 1.5 }]],
    ['an object as the id', [{ id: { n: 42 } }]],
    ['NaN as the id', [{ id: NaN }]],
    ['Infinity as the id', [1, { id: Infinity }]],
  ]
  it.each(bad)('rejects %s with DLQ_INVALID_ARGUMENT and writes nothing', async (_name, rest) => {
    const dlq = await openLog()
    const call = (dlq[m] as (...args: unknown[]) => Promise<void>).bind(dlq)
    await expect(call({ n: 1 }, 'r', ...rest)).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
    await dlq.flush()
    expect(records(fileOf(dlq, m))).toEqual([])
  })

  it('names the unknown key and the known ones', async () => {
    const dlq = await openLog()
    await expect(dlq[m](1, 'r', { attempts: 2 } as never)).rejects.toThrow(/unknown option `attempts` \(known: attempt, id\)/)
  })
})
