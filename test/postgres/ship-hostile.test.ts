/**
 * Entries PostgreSQL cannot hold as they are — a lone surrogate in a payload, reason or id, a
 * number jsonb's numeric cannot hold, a payload nested 100,000 levels deep — cost only
 * themselves: the rest of the batch, later segments and the permanent log ship; the hostile
 * entry is stored whole (its line, as text) and central replay delivers what a local replay
 * of the same log delivers; a background shipper makes progress past it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { inspect, Logger, RawPayload, replay } from '../../src/index.js'
import type { PostgresStore } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, byState, collect, useCluster } from './setup.js'

const pg = useCluster()

const DEEP = 100_000

interface Kind {
  name: string
  log(dlq: Logger, id: string): Promise<void>
  /** The id as the central store keeps it, when it is not the id logged. */
  centralId?: string
}

const KINDS: Kind[] = [
  { name: 'a lone surrogate in the payload', log: (d, id) => d.log({ s: 'half an emoji \ud83d', t: '\ude00 alone' }, 'boom', { id }) },
  // Text columns cannot hold it either: reasons and ids keep U+FFFD in its place (pg-text.ts).
  { name: 'a lone surrogate in the reason', log: (d, id) => d.log({ n: 1 }, `cut \ud83d here ${id}`, { id }) },
  { name: 'a lone surrogate in the id', log: (d, id) => d.log({ n: 2 }, 'boom', { id: `${id}-\ud83d` }), centralId: 'x-\uFFFD' },
  { name: 'a number jsonb cannot hold', log: (d, id) => d.log(new RawPayload('{"amount":1e200000,"tiny":-1e-200000,"ok":1}'), 'boom', { id }) },
  { name: 'a payload nested 100,000 levels deep', log: (d, id) => d.log(new RawPayload(`{"deep":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`), 'boom', { id }) },
]

/** Deep equality without recursion (a 100,000-level payload overflows recursive comparers). */
function sameJson(a: unknown, b: unknown): boolean {
  const stack: Array<[unknown, unknown]> = [[a, b]]
  while (stack.length > 0) {
    const [x, y] = stack.pop()!
    if (Object.is(x, y)) continue
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null || Array.isArray(x) !== Array.isArray(y)) return false
    const kx = Object.keys(x)
    if (kx.length !== Object.keys(y).length) return false
    for (const k of kx) {
      if (!Object.hasOwn(y, k)) return false
      stack.push([(x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]])
    }
  }
  return true
}

const wellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed()

/** What a local replay of (a copy of) the log hands its handler, by id as the store keeps it. */
async function localDeliveries(logPath: string): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>()
  await replay(logPath, (payload, env) => {
    out.set(wellFormed(env.id!), payload)
  })
  return out
}

async function centralDeliveries(store: PostgresStore): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>()
  await store.replay((payload, e) => {
    expect(out.has(e.id!), `${e.id} delivered twice`).toBe(false)
    out.set(e.id!, payload)
  })
  return out
}

function copyLog(logPath: string): string {
  const copy = path.join(tmpDir(), 'copy')
  fs.cpSync(path.dirname(logPath), copy, { recursive: true })
  return path.join(copy, path.basename(logPath))
}

function expectSameDeliveries(central: Map<string, unknown>, local: Map<string, unknown>): void {
  expect([...central.keys()].sort()).toEqual([...local.keys()].sort())
  for (const [id, payload] of local) expect(sameJson(central.get(id), payload), `payload of ${JSON.stringify(id)}`).toBe(true)
}

describe('ship: entries PostgreSQL cannot hold as they are', () => {
  it.each(KINDS)('$name costs nothing: the entries around it ship, and it comes back as logged', async (kind) => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'o.log')
    const dlq = await Logger.open(logPath)
    await dlq.log({ good: 'before' }, 'boom', { id: 'before' })
    await kind.log(dlq, 'x')
    await dlq.log({ good: 'after' }, 'boom', { id: 'after' })
    await dlq.close()
    const local = await localDeliveries(copyLog(logPath))

    const store = await pg.store()
    const r = await store.ship(logPath)
    expect(r).toMatchObject({ shipped: 3, retry: 3, corrupt: 0, refused: 0, files: 1 })
    expect((await byState(store))).toMatchObject({ retry: 3, corrupt: 0 })
    const rows = await allEntries(store)
    expect(rows.map((e) => e.id).sort()).toEqual(['after', 'before', kind.centralId ?? 'x'])
    expect(rows.find((e) => e.id === (kind.centralId ?? 'x'))!.reason).toBe(kind.name.includes('reason') ? 'cut \uFFFD here x' : 'boom')
    expectSameDeliveries(await centralDeliveries(store), local)
    expect(fs.readdirSync(dir).filter((f) => /^o\.(\d{12}\.)?log/.test(f))).toEqual([])
  })

  it('a mix of them among good entries, in two segments and the permanent log: every entry arrives once', async () => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'mix.log')
    const dlq = await Logger.open(logPath)
    let n = 0
    const good = async (permanent = false) => {
      const id = `good-${n++}`
      if (permanent) await dlq.logPermanent({ id }, 'boom', { id })
      else await dlq.log({ id }, 'boom', { id })
    }
    const hostile: string[] = []
    for (const part of ['a', 'b'] as const) {
      for (let i = 0; i < 5; i++) await good()
      for (const [k, kind] of KINDS.entries()) {
        await kind.log(dlq, `${part}${k}`)
        hostile.push(kind.centralId?.replace('x', `${part}${k}`) ?? `${part}${k}`)
        await good()
      }
      if (part === 'a') expect(await dlq.rotate()).not.toBeNull()
    }
    for (let i = 0; i < 3; i++) await good(true)
    const permHostile = ['p0', 'p1', 'p2']
    await dlq.logPermanent({ s: '\udfff' }, 'boom', { id: 'p0' })
    await dlq.logPermanent(new RawPayload('[1e200000]'), 'boom', { id: 'p1' })
    await dlq.logPermanent(new RawPayload(`${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}`), 'boom', { id: 'p2' })
    for (let i = 0; i < 3; i++) await good(true)
    await dlq.close()
    // A sealed segment and the active file (sealed by ship): two retry segments.
    expect(fs.readdirSync(dir).filter((f) => /^mix\.(\d{12}\.)?log$/.test(f))).toHaveLength(2)
    const copy = copyLog(logPath)
    const localPermanent = new Map<string, unknown>()
    for await (const e of inspect(copy, { kind: 'permanent' })) localPermanent.set(e.id!, e.payload)
    const local = await localDeliveries(copy)

    const store = await pg.store()
    const r = await store.ship(logPath)
    const total = n + hostile.length + permHostile.length
    expect(r).toMatchObject({ shipped: total, retry: total - 6 - 3, permanent: 9, corrupt: 0, refused: 0, files: 3 })
    const rows = await allEntries(store)
    const ids = rows.map((e) => e.id!).sort()
    expect(ids).toEqual([...Array.from({ length: n }, (_, i) => `good-${i}`), ...hostile, ...permHostile].sort())
    expect(new Set(ids).size).toBe(rows.length)
    const centralPermanent = await collect(store.inspect({ kind: 'permanent' }))
    expect(centralPermanent.map((e) => e.id).sort()).toEqual([...localPermanent.keys()].sort())
    for (const e of centralPermanent) expect(sameJson(e.payload, localPermanent.get(e.id!)), `payload of ${e.id}`).toBe(true)
    expectSameDeliveries(await centralDeliveries(store), local)
  })

  it('a background shipper makes progress past them', async () => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'bg.log')
    const dlq = await Logger.open(logPath)
    const logRound = async (round: number) => {
      await dlq.log({ round }, 'boom', { id: `${round}-first` })
      for (const [k, kind] of KINDS.entries()) await kind.log(dlq, `${round}-${k}`)
      await dlq.log({ round }, 'boom', { id: `${round}-last` })
    }
    const perRound = KINDS.length + 2
    await logRound(1)
    const store = await pg.store()
    const errors: unknown[] = []
    let shipped = 0
    let arrived: () => void = () => {}
    const target = { count: perRound }
    store.on('error', (err) => {
      errors.push(err)
      arrived()
    })
    store.on('shipped', (r) => {
      shipped += r.shipped
      if (shipped >= target.count) arrived()
    })
    const until = (count: number) =>
      new Promise<void>((resolve) => {
        target.count = count
        arrived = resolve
        if (shipped >= count) resolve()
      })
    const stop = store.startShipper(logPath, { interval: '20ms' })
    try {
      await until(perRound)
      expect(errors).toEqual([])
      // With the writer still open: the shipper asks it to seal, and the next round ships too.
      await logRound(2)
      await until(2 * perRound)
      expect(errors).toEqual([])
    } finally {
      await stop()
      await dlq.close()
    }
    expect((await byState(store))).toMatchObject({ retry: 2 * perRound, corrupt: 0 })
  })
})
