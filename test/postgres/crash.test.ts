/**
 * Real processes, real kills, a real server: a shipper SIGKILLed at a random instant loses
 * nothing and duplicates nothing once shipping is run again; central workers on two
 * processes deliver each entry once, and a killed worker's lease expires and its entries
 * come back.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { exited, forkFixture } from '../helpers/child.js'
import { tmpDir } from '../helpers/tmp.js'
import { Rng } from '../helpers/rng.js'
import { allEntries, byState, rowCount, seed, useCluster } from './setup.js'

const pg = useCluster()

function fork(name: string, args: string[]) {
  return forkFixture(path.join('..', 'postgres', 'fixtures', name), args)
}

function message<T>(child: ReturnType<typeof fork>, pick: (m: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: unknown) => {
      const v = pick(m)
      if (v !== undefined) {
        child.off('message', on)
        resolve(v)
      }
    }
    child.on('message', on)
    child.once('exit', (code, sig) => reject(new Error(`child exited (${code ?? sig}) before the expected message`)))
  })
}

const schemaOf = (s: unknown) => (s as { tables: { schema: string } }).tables.schema

describe('crashes', () => {
  it('a shipper SIGKILLed mid-way, then shipped again: every entry exactly once, nothing lost', async () => {
    const seedValue = Number(process.env.DLQ_SEED ?? Date.now() % 1_000_000)
    console.log(`ship crash seed: ${seedValue} (DLQ_SEED=${seedValue} to repeat)`)
    const rng = new Rng(seedValue)
    const random = () => rng.next()
    const store = await pg.store()
    const dir = tmpDir()
    const logPath = path.join(dir, 'crash.log')
    let next = 0
    for (let round = 0; round < 4; round++) {
      const dlq = await Logger.open(logPath, { rotateSize: 64 * 1024 })
      const n = 3000 + Math.floor(random() * 3000)
      for (let i = 0; i < n; i++) {
        const k = next++
        if (k % 10 === 9) await dlq.logPermanent({ n: k }, `declined ${k}`)
        else await dlq.log({ n: k, pad: 'x'.repeat(k % 50) }, `timeout ${k}`)
      }
      await dlq.close()
      if (round === 1) fs.appendFileSync(path.join(dir, 'crash.000000009999.log'), 'garbage line\n')
      const before = (await rowCount(store))
      const child = fork('ship-child.ts', [pg.url, schemaOf(store), logPath, '100'])
      const gone = exited(child)
      await message(child, (m) => (m === 'ready' ? true : undefined))
      // The kill point is a row count: SIGKILL once the database holds that many new rows.
      const target = before + Math.floor(random() * (next - before))
      let inDb = before
      while (child.exitCode === null && child.signalCode === null && inDb < target) {
        await new Promise((r) => setTimeout(r, 2))
        inDb = (await rowCount(store))
      }
      child.kill('SIGKILL')
      const how = await gone
      inDb = (await rowCount(store))
      console.log(`round ${round}: ${n} entries, kill point ${target} rows (${how.signal ?? `exit ${how.code}`}); ${inDb} of ${next} in the database`)
    }
    const r = await store.ship(logPath)
    expect(r.stopped).toBe(null)
    const rows = await allEntries(store)
    const ns = rows.filter((e) => e.kind !== 'corrupt').map((e) => (e.payload as { n: number }).n)
    expect(ns.length).toBe(next)
    expect(new Set(ns).size).toBe(next)
    expect(Math.max(...ns)).toBe(next - 1)
    expect(rows.filter((e) => e.kind === 'corrupt').map((e) => e.raw)).toEqual(['garbage line'])
    expect(rows.filter((e) => e.kind === 'permanent')).toHaveLength(Math.floor(next / 10))
    const left = fs.readdirSync(dir).filter((f) => !f.startsWith('.') && fs.statSync(path.join(dir, f)).size > 0)
    expect(left).toEqual([])
  })

  it('two worker processes deliver each entry exactly once', async () => {
    const store = await pg.store()
    const total = 2000
    await seed(store, tmpDir(), total)
    const kids = [0, 1].map(() => fork('worker-child.ts', [pg.url, schemaOf(store), '30000', 'deliver']))
    const seen = new Map<number, number>()
    const perChild = [0, 0]
    kids.forEach((k, i) =>
      k.on('message', (m: { seen?: number[] }) => {
        for (const n of m.seen ?? []) {
          seen.set(n, (seen.get(n) ?? 0) + 1)
          perChild[i]!++
        }
      }),
    )
    const codes = await Promise.all(kids.map(exited))
    expect(codes.map((c) => c.code)).toEqual([0, 0])
    expect(seen.size).toBe(total)
    expect([...seen.values()].every((c) => c === 1)).toBe(true)
    console.log(`deliveries per worker: ${perChild.join(' + ')}`)
    expect(await byState(store)).toMatchObject({ retry: 0, delivered: total })
  })

  it("a SIGKILLed worker's lease expires and its entries come back", async () => {
    const store = await pg.store()
    const total = 200
    await seed(store, tmpDir(), total)
    const child = fork('worker-child.ts', [pg.url, schemaOf(store), '1000', 'hang'])
    await message(child, (m) => ((m as { hanging?: boolean }).hanging ? true : undefined))
    child.kill('SIGKILL')
    await exited(child)
    // Leased: not due until the lease ends.
    const leased = total - (await store.stats()).retry.due
    expect(leased).toBe(25)
    // Wait on the condition (the lease running out), not a fixed sleep.
    for (let i = 0; (await store.stats()).retry.due < total; i++) {
      if (i > 500) throw new Error('lease never expired')
      await new Promise((r) => setTimeout(r, 20))
    }
    const got: number[] = []
    const s = await store.replay((p: { n: number }) => void got.push(p.n))
    expect(s.delivered).toBe(total)
    expect(new Set(got).size).toBe(total)
  })
})
