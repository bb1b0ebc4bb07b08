/**
 * Many hosts at once: shipper processes (one per log and host) SIGKILLed at random instants
 * and started again, while replay worker processes drain the table. Every entry ends in the
 * table exactly once, delivered exactly once (the workers are not killed and their leases
 * outlast the run), and no local file is left. Sizes are small for CI; DLQ_FLEET_SHIPPERS,
 * DLQ_FLEET_WORKERS, DLQ_FLEET_ENTRIES (per log) and DLQ_SEED make bigger or repeated runs.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import type { Db } from '../../src/postgres/db.js'
import { exited, forkFixture, killAfterTest } from '../helpers/child.js'
import { Rng } from '../helpers/rng.js'
import { tmpDir } from '../helpers/tmp.js'
import { schemaOf, useCluster } from './setup.js'

const pg = useCluster()
const SHIPPERS = Number(process.env.DLQ_FLEET_SHIPPERS ?? 16)
const WORKERS = Number(process.env.DLQ_FLEET_WORKERS ?? 8)
const ENTRIES = Number(process.env.DLQ_FLEET_ENTRIES ?? 400)

const fork = (name: string, args: string[]) => killAfterTest(forkFixture(path.join('..', 'postgres', 'fixtures', name), args))

describe('a fleet at once', () => {
  it(`${SHIPPERS} shippers SIGKILLed at random and ${WORKERS} replay workers: every entry exactly once, nothing lost`, async () => {
    const seedValue = Number(process.env.DLQ_SEED ?? Date.now() % 1_000_000)
    console.log(`fleet seed: ${seedValue} (DLQ_SEED=${seedValue} to repeat); ${SHIPPERS} shippers × ${ENTRIES} entries, ${WORKERS} workers`)
    const rng = new Rng(seedValue)
    const store = await pg.store()
    const schema = schemaOf(store)
    const dirs: string[] = []
    for (let h = 0; h < SHIPPERS; h++) {
      const dir = tmpDir()
      dirs.push(dir)
      const dlq = await Logger.open(path.join(dir, 'app.log'), { rotateSize: 16 * 1024 })
      for (let i = 0; i < ENTRIES; i++) await dlq.log({ n: h * 1_000_000 + i }, `timeout on host ${h}`)
      await dlq.close()
    }

    const delivered = new Map<number, number>()
    const workers = Array.from({ length: WORKERS }, () => {
      const w = fork('fleet-worker-child.ts', [pg.url, schema, String(rng.pick([1, 25, 100]))])
      w.on('message', (m: { seen?: number[] }) => {
        for (const n of m.seen ?? []) delivered.set(n, (delivered.get(n) ?? 0) + 1)
      })
      return w
    })

    let kills = 0
    await Promise.all(
      dirs.map(async (dir, h) => {
        for (let run = 0; ; run++) {
          const child = fork('ship-child.ts', [pg.url, schema, path.join(dir, 'app.log'), String(rng.pick([10, 50, 200])), `host-${h}`])
          const gone = exited(child)
          if (run < 3 && rng.chance(0.6)) {
            // A random instant after it started shipping.
            const delay = rng.int(0, 400)
            await new Promise<void>((resolve) => {
              child.on('message', (m) => {
                if (m === 'ready') setTimeout(resolve, delay)
              })
              void gone.then(() => resolve())
            })
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGKILL')
              kills++
            }
          }
          const how = await gone
          if (how.code === 0) return
          expect(how.signal, `shipper of host-${h} exited ${how.code}`).toBe('SIGKILL')
        }
      }),
    )
    for (const w of workers) w.send('stop')
    const codes = await Promise.all(workers.map(exited))
    expect(codes.map((c) => c.code)).toEqual(workers.map(() => 0))

    const db = (store as unknown as { db: Db }).db
    const r = await db.query<{ rows: string; distinct: string; delivered: string }>(
      `SELECT count(*) AS rows, count(DISTINCT (host, payload->>'n')) AS distinct, count(*) FILTER (WHERE state = 'delivered') AS delivered FROM "${schema}".entries`,
    )
    const total = SHIPPERS * ENTRIES
    console.log(`kills: ${kills}; rows ${r.rows[0]!.rows}, delivered ${r.rows[0]!.delivered}; handler calls ${[...delivered.values()].reduce((a, b) => a + b, 0)}`)
    expect(Number(r.rows[0]!.rows)).toBe(total)
    expect(Number(r.rows[0]!.distinct)).toBe(total)
    expect(Number(r.rows[0]!.delivered)).toBe(total)
    expect(delivered.size).toBe(total)
    expect([...delivered.entries()].filter(([, c]) => c !== 1)).toEqual([])
    const s = await store.stats()
    expect(s.retry.count).toBe(0)
    expect(s.backend).toMatchObject({ settled: { delivered: total } })
    const left = dirs.flatMap((d) => fs.readdirSync(d).filter((f) => !f.startsWith('.') && fs.statSync(path.join(d, f)).size > 0))
    expect(left).toEqual([])
  }, 300_000)
})
