/**
 * Purge and requeue mean on the central store what they mean on a local log: purge takes the
 * permanent and corrupt entries only, and must be told which (the retry log is never purged:
 * its entries leave through replay); requeue takes permanent entries by default, retry ones
 * when asked (leases respected, see lease-vs-requeue), never corrupt, delivered or purged
 * ones. Refusals carry the local purge's code, from the library, the CLI and the inspector.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, purge as localPurge } from '../../src/index.js'
import { PostgresStore } from '../../src/postgres/index.js'
import { runCli } from '../fixtures/cli-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { post, serve } from '../serve/helpers.js'
import { byState, rejection, useCluster } from './setup.js'

const pg = useCluster()

/** 4 retry, 3 permanent and 1 corrupt entry in a local log, shipped into `store`. */
async function fill(store: PostgresStore): Promise<string> {
  const dir = tmpDir()
  const logPath = path.join(dir, 'orders.log')
  const dlq = await Logger.open(logPath)
  for (let i = 0; i < 7; i++) {
    if (i < 3) await dlq.logPermanent({ i }, `declined ${i}`, 3)
    else await dlq.log({ i }, `timeout ${i}`, 1)
  }
  await dlq.close()
  fs.appendFileSync(path.join(dir, 'orders.000000009999.log'), 'garbage line\n')
  await store.ship(logPath)
  return logPath
}

describe('central purge and requeue take what they take locally', () => {
  it('purge needs state permanent and/or corrupt; retry, delivered and purged are refused, dry run included', async () => {
    const store = await pg.store()
    await fill(store)
    const before = (await byState(store))
    expect(before).toMatchObject({ retry: 4, permanent: 3, corrupt: 1 })

    // The local purge's refusals, for the codes to match.
    const local = tmpDir()
    const localLog = path.join(local, 'l.log')
    await (await Logger.open(localLog)).close()
    const localMissing = await rejection(() => localPurge(localLog, {} as never))
    const localRetry = await rejection(() => localPurge(localLog, { kind: 'retry' } as never))
    expect(localMissing.code).toBe('DLQ_INVALID_OPTION')
    expect(localRetry.code).toBe('DLQ_INVALID_OPTION')

    for (const dryRun of [false, true]) {
      for (const filter of [undefined, {}, { reason: 'timeout' }]) {
        const e = await rejection(() => store.purge({ ...filter, dryRun } as never))
        expect(e.code, JSON.stringify(filter)).toBe(localMissing.code)
        expect(e.message).toMatch(/purge\(\) needs option `kind`: 'permanent' or 'corrupt'.*retry log is never purged/)
      }
      for (const state of ['retry', 'delivered', 'purged', ['permanent', 'retry']] as const) {
        const e = await rejection(() => store.purge({ kind: state as never, dryRun }))
        expect(e.code, JSON.stringify(state)).toBe(localRetry.code)
        expect(e.message).toMatch(/option `kind` must be 'permanent' or 'corrupt' for purge\(\)/)
      }
    }
    expect((await byState(store))).toEqual(before)

    expect(await store.purge({ kind: 'permanent', dryRun: true })).toMatchObject({ count: 3, backend: { type: 'postgres', leased: 0 } })
    expect(await store.purge({ kind: 'corrupt' })).toMatchObject({ count: 1 })
    expect(await store.purge({ kind: 'permanent' })).toMatchObject({ count: 3 })
    expect(await store.purge({ kind: 'corrupt' })).toMatchObject({ count: 0 })
    expect((await byState(store))).toMatchObject({ retry: 4, permanent: 0, corrupt: 0, purged: 4 })
  })

  it('requeue takes permanent by default and retry when asked; never corrupt, delivered or purged', async () => {
    const store = await pg.store()
    await fill(store)
    for (const state of ['corrupt', 'delivered', 'purged', ['permanent', 'corrupt']] as const) {
      for (const dryRun of [false, true]) {
        const e = await rejection(() => store.requeue({ kind: state as never, dryRun }))
        expect(e.code, JSON.stringify(state)).toBe('DLQ_INVALID_OPTION')
        expect(e.message).toMatch(/option `kind` must be 'permanent' or 'retry' for requeue\(\)/)
      }
    }
    // Deferred retry entries made due now; permanent ones moved back.
    await store.replay(() => {
      throw new Error('again')
    }, { initialWait: '1h', maxWait: '1h' })
    expect((await store.stats()).retry.due).toBe(0)
    expect(await store.requeue({ kind: 'retry', resetAttempts: true })).toMatchObject({ count: 4, backend: { type: 'postgres', leased: 0 } })
    expect((await store.stats()).retry.due).toBe(4)
    expect(await store.requeue()).toMatchObject({ count: 3 })
    expect((await byState(store))).toMatchObject({ retry: 7, permanent: 0, corrupt: 1 })
  })

  it('the CLI --db and the inspector still purge and requeue, and refuse the retry log', async () => {
    const { default: pgClient } = await import('pg')
    const admin = new pgClient.Client(pg.url)
    await admin.connect()
    await admin.query('CREATE DATABASE kinds_db')
    await admin.end()
    const url = pg.url.replace(/\/postgres$/, '/kinds_db')
    const store = await PostgresStore.connect(url)
    try {
      await fill(store)
      const noKind = await runCli(['purge', '--db', url, '--yes'])
      expect(noKind.code).toBe(1)
      expect(noKind.stderr).toMatch(/retry log is never purged/)
      const dry = await runCli(['purge', '--db', url, '--permanent', '--dry-run', '--json'])
      expect(dry.code).toBe(0)
      expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, count: 3, kind: 'permanent', backend: { leased: 0 } })
      const corrupt = await runCli(['purge', '--db', url, '--corrupt', '--yes', '--json'])
      expect(corrupt.code).toBe(0)
      expect(JSON.parse(corrupt.stdout)).toMatchObject({ count: 1, kind: 'corrupt' })

      const s = await serve({ db: url, allowWrites: true })
      const retry = await post(s, '/api/logs/central/purge', { log: 'retry', dryRun: true })
      expect(retry.status).toBe(400)
      const perm = await post(s, '/api/logs/central/purge', { log: 'permanent', dryRun: true })
      expect(perm.status).toBe(200)
      expect(perm.json()).toMatchObject({ count: 3, summary: { count: 3, backend: { leased: 0 } } })
      const rq = await post(s, '/api/logs/central/requeue', { log: 'permanent', dryRun: true })
      expect(rq.status).toBe(200)
      expect(rq.json()).toMatchObject({ count: 3 })

      const requeued = await runCli(['requeue', '--db', url, '--json'])
      expect(requeued.code).toBe(0)
      expect(JSON.parse(requeued.stdout)).toMatchObject({ count: 3, backend: { type: 'postgres', leased: 0 } })
      expect((await byState(store))).toMatchObject({ retry: 7, permanent: 0, corrupt: 0, purged: 1 })
    } finally {
      await store.close()
    }
  })
})
