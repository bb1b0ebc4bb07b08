/**
 * The done criterion of issue 18: the same stats, inspect, requeue and purge calls, with the
 * same options object, on a local log and on a real PostgreSQL store holding the same entries,
 * give results with the same keys (`backend` apart; the store adds `host`, `logName`, `hosts`)
 * and the same counts, reason groups and entries.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Entry, inspect, purge, requeue, stats } from '../src/index.js'
import type { PostgresStore } from '../src/postgres/index.js'
import { buildAdminLog } from './fixtures/admin-log.js'
import { tmpDir } from './helpers/tmp.js'
import { collect, useCluster } from './postgres/setup.js'

const pg = useCluster()
const CENTRAL_ONLY = new Set(['host', 'hosts', 'logName'])

/** Every key path (arrays: the union over their elements), without `backend` and the central-only keys. */
function keyPaths(v: unknown, at = ''): string[] {
  if (Array.isArray(v)) return [...new Set(v.flatMap((x) => keyPaths(x, `${at}[]`)))].sort()
  if (v === null || typeof v !== 'object' || v instanceof RegExp) return []
  if (at.endsWith('.attempts') || at.endsWith('.byFinal')) return [at]
  return Object.entries(v)
    .filter(([k]) => k !== 'backend' && !CENTRAL_ONLY.has(k))
    .flatMap(([k, x]) => [`${at}.${k}`, ...keyPaths(x, `${at}.${k}`)])
    .sort()
}

/** A result without what is the backend's own: `backend`, the central-only keys, and the time of counting. */
function comparable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(comparable)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'backend' && k !== 'at' && !CENTRAL_ONLY.has(k)).map(([k, x]) => [k, comparable(x)]))
}

/** What an entry says, whichever backend stored it: not where it is stored (ref, file, offset, line). */
function content(e: Entry): object {
  const { ref: _r, file: _f, offset: _o, line: _l, host: _h, logName: _n, ...rest } = e
  return rest
}

describe('the same calls on a local log and on the central store', () => {
  /** The same entries twice: as a local log, and shipped into a store of its own. */
  async function pair(): Promise<{ local: string; store: PostgresStore }> {
    const now = Date.now()
    const local = buildAdminLog(tmpDir(), now).log
    const store = await pg.store()
    await store.ship(buildAdminLog(tmpDir(), now).log, { logName: 'orders.log' })
    return { local, store }
  }

  const statsCases: object[] = [{}, { top: 1 }, { reason: /timeout/ }, { since: '25h', payload: 'A-' }, { fingerprint: 'legacy endpoint gone' }]
  it.each(statsCases.map((o) => [JSON.stringify(o, (_, v) => (v instanceof RegExp ? String(v) : v)), o]))('stats(%s)', async (_, options) => {
    const { local, store } = await pair()
    const [l, c] = [await stats(local, options as never), await store.stats(options as never)]
    expect(keyPaths(c)).toEqual(keyPaths(l))
    expect(comparable(c)).toEqual(comparable(l))
    expect([l.backend.type, c.backend.type]).toEqual(['local', 'postgres'])
    expect(c.hosts).toEqual([expect.objectContaining({ host: 'host-a' })])
  })

  const inspectCases: object[] = [
    {},
    { kind: 'permanent' },
    { kind: 'corrupt' },
    { kind: 'permanent', reason: /card declined/i, order: 'newest', limit: 1 },
    { kind: 'permanent', payload: 'A-', skip: 1 },
    { kind: 'retry', attempt: 2 },
    { kind: 'corrupt', reason: 'empty' },
  ]
  it.each(inspectCases.map((o) => [JSON.stringify(o, (_, v) => (v instanceof RegExp ? String(v) : v)), o]))('inspect(%s)', async (_, options) => {
    const { local, store } = await pair()
    const li = inspect(local, options as never)
    const ci = store.inspect(options as never)
    const [l, c] = [await collect(li), await collect(ci)]
    expect(l.length).toBeGreaterThan(0)
    expect(c.map(content)).toEqual(l.map(content))
    expect(keyPaths(c)).toEqual(keyPaths(l))
    expect(c.every((e) => e.host === 'host-a' && e.logName === 'orders.log')).toBe(true)
    expect(keyPaths(ci.summary)).toEqual(keyPaths(li.summary))
    expect(ci.summary).toEqual(li.summary)
  })

  it('requeue and purge: the dry runs and the changes report the same, and leave the same counts', async () => {
    const { local, store } = await pair()
    const calls: Array<['requeue' | 'purge', object]> = [
      ['requeue', { kind: 'permanent', reason: /legacy/, dryRun: true }],
      ['purge', { kind: 'corrupt', dryRun: true }],
      ['requeue', { kind: 'permanent', reason: /legacy/, resetAttempts: true }],
      ['requeue', { kind: 'permanent', id: 'p1' }],
      ['purge', { kind: 'permanent', fingerprint: 'card declined' }],
      ['purge', { kind: 'corrupt', olderThan: '1d' }],
    ]
    for (const [op, options] of calls) {
      const l = op === 'requeue' ? await requeue(local, options as never) : await purge(local, options as never)
      const c = op === 'requeue' ? await store.requeue(options as never) : await store.purge(options as never)
      expect(keyPaths(c), op).toEqual(keyPaths(l))
      expect(comparable(c), `${op} ${JSON.stringify(options)}`).toEqual(comparable(l))
      expect(l.count, op).toBeGreaterThan(0)
    }
    const [l, c] = [await stats(local), await store.stats()]
    expect(comparable(c)).toEqual(comparable(l))
    expect([l.retry.count, l.permanent.count, l.corrupt.count]).toEqual([7, 1, 1])
    // Requeued entries are the same entries on both (attempts reset or kept).
    const requeued = async (it: AsyncIterable<Entry>) => (await collect(it)).filter((e) => e.id?.startsWith('p')).sort((a, b) => a.id!.localeCompare(b.id!)).map(content)
    expect(await requeued(store.inspect({ kind: 'retry' }))).toEqual(await requeued(inspect(local, { kind: 'retry' })))
  })

  it('a call with a local-only or central-only option is refused by the other backend, naming it', async () => {
    const { local, store } = await pair()
    await expect(store.stats({ maxRecordSize: '1MiB' } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('`maxRecordSize`') })
    await expect(stats(local, { host: 'host-a' } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('`host`') })
    expect(path.basename(local)).toBe('orders.log')
  })
})
