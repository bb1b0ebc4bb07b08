/**
 * Central replay settles whatever a handler throws, as the local replay does: NUL bytes, lone
 * surrogates, huge messages and values that fight being described. The stored reason is the
 * local replay's reason (capped the same way) with what PostgreSQL text cannot hold replaced,
 * and the entries of the batch that succeeded are never delivered again because a failure
 * next to them could not be stored.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { inspect, Logger, replay } from '../../src/index.js'
import { pgText } from '../../src/postgres/pg-text.js'
import { MAX_REASON_LENGTH } from '../../src/base/reason.js'
import { tmpDir } from '../helpers/tmp.js'
import { byState, collect, schemaOf, seed, useCluster } from './setup.js'

const pg = useCluster()

const TEN_MB = 10 * 1024 * 1024

function hostile(): Array<[string, () => unknown]> {
  const getter = new Error('getter')
  Object.defineProperty(getter, 'message', {
    get() {
      throw new Error('no message for you')
    },
  })
  const nullProto = Object.assign(Object.create(null) as object, { message: 'null \u0000 proto', code: 'E\u0000NULL' })
  const oddCode = Object.assign(new Error('odd code and name'), { code: 42 })
  Object.defineProperty(oddCode, 'name', { value: { not: 'a string' } })
  const nulLabels = Object.assign(new TypeError('labels'), { code: 'ECONN\u0000RESET' })
  nulLabels.name = 'Bad\u0000Name'
  const trap = () => {
    throw new Error('trap')
  }
  const proxy = new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap })
  return [
    ['NUL byte in the message', () => new Error('bad\u0000byte')],
    ['lone surrogate', () => new Error('half an emoji: \ud83d and \udc4d')],
    ['NUL in name and code', () => nulLabels],
    ['10 MB message', () => new Error('m'.repeat(TEN_MB))],
    ['10 MB string with NULs and surrogates', () => '\u0000\ud800x'.repeat(TEN_MB / 3)],
    ['throwing getter', () => getter],
    ['Proxy that throws on every trap', () => proxy],
    ['Symbol', () => Symbol('sym\u0000bol')],
    ['null-prototype object', () => nullProto],
    ['BigInt', () => 12345678901234567890n],
    ['non-string code and name', () => oddCode],
    ['null', () => null],
  ]
}

/** Entry i fails with hostile value i; entries past the list succeed. */
function handlerFor(cases: Array<[string, () => unknown]>, delivered: number[]) {
  return (p: { n: number }) => {
    const c = cases[p.n]
    if (c) throw c[1]()
    delivered.push(p.n)
  }
}

describe('central replay settles whatever a handler throws', () => {
  it('stores each failure as the local replay does, and never delivers the batch again', async () => {
    const cases = hostile()
    const okCount = 8
    const n = cases.length + okCount

    // The local replay of the same failures: the reference for what is stored.
    const dir = tmpDir()
    const logPath = path.join(dir, 'local.log')
    const dlq = await Logger.open(logPath)
    for (let i = 0; i < n; i++) await dlq.log({ n: i }, 'boom', 1)
    await dlq.close()
    await replay(logPath, handlerFor(cases, []), { initialWait: '1h', maxWait: '1h' })
    const local = new Map<number, { reason: string | null; errorName?: string; errorCode?: string }>()
    for await (const e of inspect(logPath)) local.set((e.payload as { n: number }).n, e)
    expect(local.size).toBe(cases.length)

    const store = await pg.store()
    await seed(store, tmpDir(), n)
    const delivered: number[] = []
    // One batch holds the successes and every hostile failure.
    const opts = { batchSize: 100, concurrency: 4, initialWait: '1h', maxWait: '1h' }
    const first = await store.replay(handlerFor(cases, delivered), opts)
    expect(first).toMatchObject({ handled: n, delivered: okCount, requeued: cases.length })
    for (let run = 0; run < 2; run++) expect(await store.replay(handlerFor(cases, delivered), opts)).toMatchObject({ handled: 0 })
    expect(delivered.sort((a, b) => a - b)).toEqual(Array.from({ length: okCount }, (_, i) => cases.length + i))
    expect((await byState(store))).toMatchObject({ delivered: okCount, retry: cases.length })

    const rows = await collect(store.inspect({ kind: 'retry' }))
    expect(rows).toHaveLength(cases.length)
    for (const e of rows) {
      const i = (e.payload as { n: number }).n
      const want = local.get(i)!
      const label = cases[i]![0]
      expect(e.attempt, label).toBe(2)
      expect(e.reason, label).toBe(want.reason === null ? null : pgText(want.reason))
      expect(e.errorName, label).toBe(want.errorName === undefined ? undefined : pgText(want.errorName))
      expect(e.errorCode, label).toBe(want.errorCode === undefined ? undefined : pgText(want.errorCode))
      expect((e.reason ?? '').length, label).toBeLessThan(MAX_REASON_LENGTH + 100)
      expect(e.reason ?? '', label).not.toContain('\u0000')
      expect(e.fingerprint, label).not.toContain('\u0000')
    }
    const byLabel = new Map(rows.map((e) => [cases[(e.payload as { n: number }).n]![0], e]))
    expect(byLabel.get('NUL byte in the message')!.reason).toBe('bad\uFFFDbyte')
    expect(byLabel.get('NUL in name and code')).toMatchObject({ errorName: 'Bad\uFFFDName', errorCode: 'ECONN\uFFFDRESET' })
    expect(byLabel.get('10 MB message')!.reason).toMatch(/truncated, 10485760 chars total\]$/)
  })

  it('a value the database refuses for one entry costs that entry its reason, not the batch', async () => {
    const store = await pg.store()
    // A rule of this database that no handler knows about: the failure's values are refused
    // (SQLSTATE 23514) however clean their text.
    const { default: pgClient } = await import('pg')
    const admin = new pgClient.Client(pg.url)
    await admin.connect()
    try {
      await admin.query(`ALTER TABLE "${schemaOf(store)}".entries ADD CONSTRAINT no_secrets CHECK (reason IS NULL OR strpos(reason, 'secret-token') = 0)`)
    } finally {
      await admin.end()
    }
    await seed(store, tmpDir(), 10)
    const delivered: number[] = []
    const handler = (p: { n: number }) => {
      if (p.n === 3) throw new Error('leaked secret-token 42')
      if (p.n === 5) throw new Error('plain failure')
      delivered.push(p.n)
    }
    const opts = { batchSize: 100, initialWait: '1h', maxWait: '1h' }
    for (let run = 0; run < 3; run++) await store.replay(handler, opts)
    expect(delivered.sort((a, b) => a - b)).toEqual([0, 1, 2, 4, 6, 7, 8, 9])
    const retry = await collect(store.inspect({ kind: 'retry' }))
    const byN = new Map(retry.map((e) => [(e.payload as { n: number }).n, e]))
    expect([...byN.keys()].sort()).toEqual([3, 5])
    expect(byN.get(5)).toMatchObject({ attempt: 2, reason: 'plain failure' })
    expect(byN.get(3)!.attempt).toBe(2)
    expect(byN.get(3)!.reason).toMatch(/could not be stored.*23514/)
    expect(byN.get(3)!.dueTs).toBeGreaterThan(Date.now() + 30 * 60_000)
  })

  it('an outcome the database refuses even without its reason costs that entry one more run, not the batch', async () => {
    const warnings: unknown[][] = []
    const logger = { info() {}, error() {}, warn: (...a: unknown[]) => void warnings.push(a) }
    const store = await pg.store({ logger })
    const { default: pgClient } = await import('pg')
    const admin = new pgClient.Client(pg.url)
    await admin.connect()
    try {
      // This entry may never count a second attempt, whatever its reason says.
      await admin.query(`ALTER TABLE "${schemaOf(store)}".entries ADD CONSTRAINT stuck CHECK (attempt < 2 OR id IS DISTINCT FROM 'stuck')`)
    } finally {
      await admin.end()
    }
    await seed(store, tmpDir(), 6, { id: (i) => (i === 2 ? 'stuck' : `o-${i}`) })
    const delivered: number[] = []
    const s = await store.replay(
      (p: { n: number }) => {
        if (p.n === 2 || p.n === 4) throw new Error(`failed ${p.n}`)
        delivered.push(p.n)
      },
      { initialWait: '1h', maxWait: '1h', lease: '1h' },
    )
    expect(s).toMatchObject({ handled: 6, delivered: 4, requeued: 2 })
    expect(delivered.sort()).toEqual([0, 1, 3, 5])
    const rows = new Map([...(await collect(store.inspect({ kind: 'retry' }))), ...(await collect(store.inspect({ settled: 'delivered' })))].map((e) => [(e.payload as { n: number }).n, e]))
    expect(rows.get(4)).toMatchObject({ kind: 'retry', attempt: 2, reason: 'failed 4' })
    expect(rows.get(4)!.settled).toBeUndefined()
    // Left as it was, still leased: it runs again when the lease ends.
    expect(rows.get(2)).toMatchObject({ kind: 'retry', attempt: 1 })
    expect(rows.get(2)!.settled).toBeUndefined()
    expect((await store.stats()).retry.due).toBe(0)
    expect(warnings).toHaveLength(1)
    expect(String(warnings[0]![1])).toMatch(/refused to record the outcome/)
  })
})
