/**
 * store.requeue's loop guard, on a real PostgreSQL: as on a local log, each requeue counts
 * one redrive (the `redrives` column), an entry at `maxRedrives` (default 3) stays where it
 * is, counted in `heldBack` (never mistaken for one a worker holds: `leased`), unless forced.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { writeLines } from '../fixtures/cli-util.js'
import { collect, useCluster } from './setup.js'

const pg = useCluster()

/** A log whose permanent segment holds one entry per redrive count (`r0` … `r3`). */
function permanentLog(): string {
  const dir = tmpDir()
  const lines = [0, 1, 2, 3].map((n) =>
    JSON.stringify({ ts: 1000 + n, attempt: 5, reason: 'card declined', id: `r${n}`, final: 'exhausted', ...(n > 0 ? { redrives: n } : {}), payload: { n } }),
  )
  writeLines(path.join(dir, 'permanent-orders.000000000001.log'), lines)
  return path.join(dir, 'orders.log')
}

describe('store.requeue loop guard', () => {
  it('holds back an entry at maxRedrives, counts a redrive on each moved entry, and force moves it', async () => {
    const store = await pg.store()
    expect(await store.ship(permanentLog())).toMatchObject({ shipped: 4 })
    expect(await store.requeue({ dryRun: true })).toMatchObject({ count: 3, heldBack: 1, maxRedrives: 3, backend: { leased: 0 } })
    expect(await store.requeue({ resetAttempts: true })).toMatchObject({ count: 3, heldBack: 1, maxRedrives: 3, backend: { leased: 0 } })
    const redrives = async (kind: 'retry' | 'permanent') =>
      Object.fromEntries((await collect(store.inspect({ kind }))).map((e) => [e.id, e.redrives ?? 0]))
    expect(await redrives('permanent')).toEqual({ r3: 3 })
    expect(await redrives('retry')).toEqual({ r0: 1, r1: 2, r2: 3 })
    expect(await store.requeue({ force: true })).toMatchObject({ count: 1, heldBack: 0, maxRedrives: null })
    expect(await redrives('permanent')).toEqual({})
    expect(await redrives('retry')).toEqual({ r0: 1, r1: 2, r2: 3, r3: 4 })
  })

  it('takes maxRedrives as an option, also for kind retry, and rejects a bad one', async () => {
    const store = await pg.store()
    await store.ship(permanentLog())
    expect(await store.requeue({ maxRedrives: 2 })).toMatchObject({ count: 2, heldBack: 2 })
    // r0 and r1 are retry entries now, with 1 and 2 redrives: making them due again counts too.
    expect(await store.requeue({ kind: 'retry', maxRedrives: 2 })).toMatchObject({ count: 1, heldBack: 1 })
    await expect(store.requeue({ maxRedrives: 1.5 })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    await expect(store.purge({ kind: 'permanent', maxRedrives: 1 } as never)).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
  })
})
