import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, useCluster } from './setup.js'

const pg = useCluster()

function localLines(dir: string): number {
  let n = 0
  for (const f of fs.readdirSync(dir)) {
    if (f.startsWith('.')) continue
    n += fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => l.length > 0).length
  }
  return n
}

describe('database down', () => {
  it('ship rejects with DLQ_DB naming the cause, local files stay, log() goes on, the next ship succeeds exactly once', async () => {
    const store = await pg.store()
    const dir = tmpDir()
    const logPath = path.join(dir, 'down.log')
    const dlq = await Logger.open(logPath, { sealPollInterval: 10 })
    try {
      for (let i = 0; i < 10; i++) await dlq.log({ i }, 'boom')
      expect((await store.ship(logPath)).shipped).toBe(10)
      for (let i = 10; i < 20; i++) await dlq.log({ i }, 'boom')
      pg.cluster.stop()
      const err = (await store.ship(logPath).catch((e: unknown) => e)) as Error & { code?: string }
      expect(err).toMatchObject({ code: 'DLQ_DB' })
      expect(err.message).toMatch(/ECONNREFUSED|57P01|terminat|Connection terminated/)
      // Everything logged is still on disk, and logging is unaffected by the outage.
      expect(localLines(dir)).toBe(10)
      for (let i = 20; i < 30; i++) await dlq.log({ i }, 'boom')
      // A retry while still down reports the refused connection itself.
      const again = (await store.ship(logPath).catch((e: unknown) => e)) as Error & { code?: string }
      expect(again).toMatchObject({ code: 'DLQ_DB', message: expect.stringMatching(/ECONNREFUSED/) })
      pg.cluster.start()
      const r = await store.ship(logPath)
      expect(r.shipped).toBe(20)
      const ns = (await allEntries(store)).map((e) => (e.payload as { i: number }).i).sort((a, b) => a - b)
      expect(ns).toEqual(Array.from({ length: 30 }, (_, i) => i))
    } finally {
      await dlq.close()
    }
  })

  it('a background shipper reports failures as events and catches up when the database is back', async () => {
    const store = await pg.store()
    const dir = tmpDir()
    const logPath = path.join(dir, 'bg.log')
    const dlq = await Logger.open(logPath, { sealPollInterval: 10 })
    const errors: string[] = []
    store.on('error', (e) => errors.push(e.code))
    try {
      pg.cluster.stop()
      const stop = store.startShipper(logPath, { interval: 20 })
      for (let i = 0; i < 5; i++) await dlq.log({ i }, 'boom')
      while (errors.length < 2) await new Promise((r) => setTimeout(r, 10))
      pg.cluster.start()
      while ((await store.stats().catch(() => undefined))?.retry.count !== 5) await new Promise((r) => setTimeout(r, 20))
      await stop()
      expect(errors.every((c) => c === 'DLQ_DB')).toBe(true)
    } finally {
      await dlq.close()
    }
  })
})
