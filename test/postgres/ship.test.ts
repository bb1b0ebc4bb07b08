import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, rowCount, useCluster } from './setup.js'

const pg = useCluster()

/** Files holding data (a closed logger may leave its empty active files behind). */
function localFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => !n.startsWith('.') && fs.statSync(path.join(dir, n)).size > 0)
    .sort()
}

describe('ship', () => {
  it('forwards retry, permanent and corrupt entries, then deletes the local files', async () => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'orders.log')
    const dlq = await Logger.open(logPath)
    for (let i = 0; i < 50; i++) await dlq.log({ n: i }, new Error(`timeout after ${i} ms`), 1, { id: `ord-${i}` })
    for (let i = 0; i < 5; i++) await dlq.logPermanent({ p: i }, 'card declined', 3)
    await dlq.close()
    // A damaged line in a sealed segment ships as a corrupt entry.
    fs.writeFileSync(path.join(dir, 'orders.000000000099.log'), '{"ts":1,"attempt":1,"reason":"x","payload":{"ok":1}}\nnot json\n')
    const store = await pg.store()
    const r = await store.ship(logPath)
    expect(r).toMatchObject({ shipped: 57, duplicates: 0, retry: 51, permanent: 5, corrupt: 1 })
    expect(localFiles(dir)).toEqual([])
    const rows = await allEntries(store)
    expect(rows).toHaveLength(57)
    const byState = (s: string) => rows.filter((e) => e.kind === s)
    expect(byState('retry')).toHaveLength(51)
    expect(byState('permanent')).toHaveLength(5)
    expect(byState('corrupt')[0]).toMatchObject({ reason: expect.stringContaining('invalid JSON'), raw: 'not json' })
    const e7 = rows.find((e) => e.id === 'ord-7')!
    expect(e7).toMatchObject({ host: 'host-a', logName: logPath, kind: 'retry', attempt: 1, reason: 'timeout after 7 ms', payload: { n: 7 } })
    expect(typeof e7.ts).toBe('number')
    // Nothing left to ship, nothing inserted twice.
    expect(await store.ship(logPath)).toMatchObject({ shipped: 0, duplicates: 0, files: 0 })
  })

  it('asks a live writer to seal, so everything logged before the call is shipped; log() goes on', async () => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'live.log')
    const dlq = await Logger.open(logPath, { sealPollInterval: 10 })
    try {
      for (let i = 0; i < 20; i++) await dlq.log({ i }, 'boom')
      await dlq.logPermanent({ p: 1 }, 'bad')
      const store = await pg.store()
      const r = await store.ship(logPath)
      expect(r.sealedBy).toBe('writer')
      expect(r.shipped).toBe(21)
      await dlq.log({ i: 20 }, 'after')
      const r2 = await store.ship(logPath)
      expect(r2.shipped).toBe(1)
      const all = await allEntries(store)
      expect(all.map((e) => (e.payload as { i?: number }).i).filter((x) => x !== undefined).sort((a, b) => a! - b!)).toEqual(
        Array.from({ length: 21 }, (_, i) => i),
      )
    } finally {
      await dlq.close()
    }
  })

  it('re-ships a segment whose name was reused after its predecessor was shipped', async () => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'reuse.log')
    const store = await pg.store()
    for (let round = 0; round < 3; round++) {
      const dlq = await Logger.open(logPath)
      await dlq.log({ round }, 'same reason')
      await dlq.close()
      expect((await store.ship(logPath)).shipped).toBe(1)
    }
    expect((await allEntries(store)).map((e) => e.payload)).toEqual([{ round: 0 }, { round: 1 }, { round: 2 }])
  })

  it('ships from where a local replay left off, and removes its checkpoint', async () => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'half.log')
    const dlq = await Logger.open(logPath)
    for (let i = 0; i < 10; i++) await dlq.log({ i }, 'x')
    await dlq.close()
    const seg = fs.readdirSync(dir).find((n) => /^half\.\d{12}\.log$/.test(n))
    let segPath = seg ? path.join(dir, seg) : ''
    if (!seg) {
      // Closed without sealing: seal it by renaming as the writer would.
      segPath = path.join(dir, 'half.000000000001.log')
      fs.renameSync(logPath, segPath)
    }
    const text = fs.readFileSync(segPath, 'utf8')
    const offset = text.split('\n').slice(0, 4).join('\n').length + 1
    const { writeCheckpoint } = await import('../../src/store/checkpoint.js')
    await writeCheckpoint(`${segPath}.state`, { segment: path.basename(segPath), offset, items: 4, updatedAt: Date.now() }, 0o600)
    const store = await pg.store()
    expect((await store.ship(logPath)).shipped).toBe(6)
    expect(localFiles(dir)).toEqual([])
  })

  it('stores payloads PostgreSQL jsonb cannot hold (\\u0000) and gives them back intact', async () => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'nul.log')
    const dlq = await Logger.open(logPath)
    await dlq.log({ s: 'a\u0000b' }, 'nul\u0000reason')
    await dlq.close()
    const store = await pg.store()
    expect((await store.ship(logPath)).shipped).toBe(1)
    const [e] = await allEntries(store)
    expect(e!.payload).toEqual({ s: 'a\u0000b' })
  })
})

describe('ship: damaged and unusual local files', () => {
  it('ships gzip segments, the readable part of a damaged one (the rest set aside), and over-limit lines (kept whole locally)', async () => {
    const zlib = await import('node:zlib')
    const dir = tmpDir()
    const logPath = path.join(dir, 'odd.log')
    const line = (i: number) => JSON.stringify({ ts: 1_700_000_000_000 + i, attempt: 1, reason: 'r', payload: { i } }) + '\n'
    const plain = Array.from({ length: 5 }, (_, i) => line(i)).join('')
    fs.writeFileSync(path.join(dir, 'odd.000000000001.log.gz'), zlib.gzipSync(plain))
    // Many lines so the damage lands after some whole records.
    const big = Array.from({ length: 2000 }, (_, i) => line(100 + i)).join('')
    const gz = zlib.gzipSync(big)
    fs.writeFileSync(path.join(dir, 'odd.000000000002.log.gz'), gz.subarray(0, Math.floor(gz.length / 2)))
    fs.writeFileSync(path.join(dir, 'odd.000000000003.log'), line(9000) + JSON.stringify({ ts: 1, attempt: 1, reason: 'huge', payload: 'x'.repeat(5000) }) + '\n' + line(9001))
    const store = await pg.store()
    const r = await store.ship(logPath, { maxRecordSize: 1024 })
    const rows = await allEntries(store)
    const ids = rows.filter((e) => e.kind === 'retry').map((e) => (e.payload as { i: number }).i)
    expect(ids.slice(0, 5)).toEqual([0, 1, 2, 3, 4])
    expect(ids).toContain(9000)
    expect(ids).toContain(9001)
    const fromDamaged = ids.filter((i) => i >= 100 && i < 2100)
    expect(fromDamaged.length).toBeGreaterThan(0)
    expect(fromDamaged).toEqual(Array.from({ length: fromDamaged.length }, (_, k) => 100 + k))
    const corrupt = rows.filter((e) => e.kind === 'corrupt')
    expect(corrupt.map((e) => e.reason)).toEqual([
      expect.stringMatching(/^unreadable rest of odd\.000000000002\.log\.gz after byte \d+ .*kept on this host as corrupt-odd\.000000000002\.log\.gz$/),
      expect.stringMatching(/^record of \d+ bytes exceeds maxRecordSize; full bytes kept on this host in corrupt-odd\.000000000003\.log\.\d+\.line$/),
    ])
    expect(localFiles(dir).sort()).toEqual([expect.stringMatching(/^corrupt-odd\.000000000002\.log\.gz$/), expect.stringMatching(/^corrupt-odd\.000000000003\.log\.\d+\.line$/)].sort())
    const kept = localFiles(dir).find((f) => f.endsWith('.line'))!
    expect(fs.readFileSync(path.join(dir, kept), 'utf8')).toContain('x'.repeat(5000))
    expect(r.files).toBe(3)
  })

  it("ships a local replay's corrupt quarantine as corrupt rows with the quarantine record", async () => {
    const { replay } = await import('../../src/index.js')
    const dir = tmpDir()
    const logPath = path.join(dir, 'q.log')
    fs.writeFileSync(path.join(dir, 'q.000000000001.log'), '{"ts":1,"attempt":1,"reason":"x","payload":1}\n{oops\n')
    await replay(logPath, () => {
      throw new Error('still down')
    }, { initialWait: '1h', maxWait: '1h' })
    expect(fs.existsSync(path.join(dir, 'corrupt-q.log'))).toBe(true)
    const store = await pg.store()
    await store.ship(logPath)
    const rows = await allEntries(store)
    expect(rows.map((e) => e.kind).sort()).toEqual(['corrupt', 'retry'])
    const c = rows.find((e) => e.kind === 'corrupt')!
    expect(c.raw).toBe('{oops')
    expect(c.origin).toMatchObject({ segment: 'q.000000000001.log', offset: expect.any(Number) })
    expect(rows.find((e) => e.kind === 'retry')).toMatchObject({ attempt: 2, reason: 'still down' })
    expect(localFiles(dir)).toEqual([])
  })

  it('a background shipper ships on an interval and stops cleanly', async () => {
    const dir = tmpDir()
    const logPath = path.join(dir, 'bg.log')
    const dlq = await Logger.open(logPath, { sealPollInterval: 10 })
    const store = await pg.store()
    const shipped: number[] = []
    store.on('shipped', (r) => shipped.push(r.shipped))
    const stop = store.startShipper(logPath, { interval: '20ms' })
    try {
      for (let i = 0; i < 5; i++) await dlq.log({ i }, 'x')
      while (shipped.reduce((a, b) => a + b, 0) < 5) await new Promise((r) => setTimeout(r, 10))
    } finally {
      await stop()
      await dlq.close()
    }
    expect((await rowCount(store))).toBe(5)
    expect(() => store.startShipper(logPath, { interval: 'often' })).toThrow(/option `interval`/)
  })
})

describe('ship: recovery first', () => {
  it('finishes a local requeue that was killed after committing, so moved entries ship once, as retry', async () => {
    const { writeJournal, rewritePaths } = await import('../../src/store/journal.js')
    const { logPaths } = await import('../../src/store/segments.js')
    const dir = tmpDir()
    const logPath = path.join(dir, 'rq.log')
    const env = (i: number, extra: string) => `{"ts":${1_700_000_000_000 + i},"attempt":3,"reason":"legacy ${i}"${extra},"payload":{"i":${i}}}\n`
    // Source: four permanent entries. The requeue moved 0 and 1 (retry temp) and kept 2 and 3
    // (permanent temp), committed its journal, and was killed before publishing.
    const source = 'permanent-rq.000000000001.log'
    fs.writeFileSync(path.join(dir, source), [0, 1, 2, 3].map((i) => env(i, ',"final":"exhausted"')).join(''))
    const rp = rewritePaths(logPaths(logPath))
    fs.writeFileSync(rp.retryTmp, [0, 1].map((i) => env(i, '')).join(''))
    fs.writeFileSync(rp.permanentTmp, [2, 3].map((i) => env(i, ',"final":"exhausted"')).join(''))
    await writeJournal(logPaths(logPath), 'requeue', source, 'committed')
    const store = await pg.store()
    const r = await store.ship(logPath)
    expect(r.recovered).toMatch(/finished an interrupted requeue/)
    const rows = await allEntries(store)
    const byI = rows.map((e) => [(e.payload as { i: number }).i, e.kind]).sort()
    expect(byI).toEqual([
      [0, 'retry'],
      [1, 'retry'],
      [2, 'permanent'],
      [3, 'permanent'],
    ])
    expect(fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).size > 0 && !f.endsWith('.lock'))).toEqual([])
  })
})
