/**
 * `store.inspect({ order: 'newest' })`: the same entries as oldest first, reversed, across
 * several keyset pages, with filters and a limit; an unknown order is refused.
 */
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { collect, seed, useCluster } from './setup.js'

const pg = useCluster()

describe('central inspect order', () => {
  it('newest first is oldest first reversed, page after page, filters and limit applied', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 1200, { reason: (i) => (i % 3 === 0 ? `legacy format ${i}` : 'timeout'), permanent: (i) => i % 5 === 0 })
    const oldest = await collect(store.inspect({ state: ['retry', 'permanent'] }))
    expect(oldest).toHaveLength(1200)
    const newest = await collect(store.inspect({ state: ['retry', 'permanent'], order: 'newest' }))
    expect(newest.map((e) => e.seq)).toEqual(oldest.map((e) => e.seq).reverse())

    const legacy = await collect(store.inspect({ reason: /legacy/, order: 'oldest' }))
    const legacyNewest = await collect(store.inspect({ reason: /legacy/, order: 'newest' }))
    expect(legacyNewest.map((e) => e.seq)).toEqual(legacy.map((e) => e.seq).reverse())

    const top = await collect(store.inspect({ state: 'permanent', order: 'newest', limit: 7 }))
    const permanent = oldest.filter((e) => e.state === 'permanent')
    expect(top.map((e) => e.seq)).toEqual(permanent.slice(-7).reverse().map((e) => e.seq))
  })

  it('refuses an order it does not know', async () => {
    const store = await pg.store()
    expect(() => store.inspect({ order: 'random' as 'newest' })).toThrow(expect.objectContaining({ code: 'DLQ_INVALID_OPTION' }))
  })
})
