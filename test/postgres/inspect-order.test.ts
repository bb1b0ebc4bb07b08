/**
 * `store.inspect({ order: 'newest' })`: the same entries as oldest first, reversed, across
 * several keyset pages, with filters and a limit; an unknown order is refused.
 */
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import type { Entry } from '../../src/postgres/index.js'
import { collect, seed, useCluster } from './setup.js'

const pg = useCluster()

describe('central inspect order', () => {
  it('newest first is oldest first reversed, page after page, filters and limit applied', async () => {
    const store = await pg.store()
    await seed(store, tmpDir(), 1200, { reason: (i) => (i % 3 === 0 ? `legacy format ${i}` : 'timeout'), permanent: (i) => i % 5 === 0 })
    const refs = (list: Entry[]) => list.map((e) => e.ref)
    for (const kind of ['retry', 'permanent'] as const) {
      const oldest = await collect(store.inspect({ kind }))
      expect(oldest).toHaveLength(kind === 'retry' ? 960 : 240)
      const newest = await collect(store.inspect({ kind, order: 'newest' }))
      expect(refs(newest)).toEqual(refs(oldest).reverse())

      const legacy = await collect(store.inspect({ kind, reason: /legacy/, order: 'oldest' }))
      const legacyNewest = await collect(store.inspect({ kind, reason: /legacy/, order: 'newest' }))
      expect(refs(legacyNewest)).toEqual(refs(legacy).reverse())

      const top = await collect(store.inspect({ kind, order: 'newest', limit: 7 }))
      expect(refs(top)).toEqual(refs(oldest.slice(-7).reverse()))
    }
  })

  it('refuses an order it does not know', async () => {
    const store = await pg.store()
    await expect(collect(store.inspect({ order: 'random' as 'newest' }))).rejects.toThrow(expect.objectContaining({ code: 'DLQ_INVALID_OPTION' }))
  })
})
