/**
 * Library `requeue()`: moves permanent-log entries back to the retry log exactly as
 * `dletter requeue --json` does, under the replay lock, honouring the log's maxRecordSize.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeadLetterError, type LocalChangeBackend, requeue, stats } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { buildAdminLog, idOf } from './fixtures/admin-log.js'
import { envLine, familyLines, runCli, snapshot, writeLines } from './fixtures/cli-util.js'
import { FileLock } from '../src/store/lock.js'
import { logPaths } from '../src/store/segments.js'

/** The replay lock held by a live owner (this process, as a running replay would hold it). */
const holdReplayLock = (log: string) => FileLock.acquire(logPaths(log).replayLock, 'replay', 0o600)

describe('requeue()', () => {
  it('moves the matching entries and returns what `requeue --json` prints', async () => {
    const [dirA, dirB] = [tmpDir(), tmpDir()]
    const now = Date.now()
    const a = buildAdminLog(dirA, now)
    const b = buildAdminLog(dirB, now)
    const lib = await requeue(a.log, { reason: /legacy/ })
    const cli = await runCli(['requeue', b.log, '--reason', 'legacy', '--json'])
    expect(cli.code, cli.stderr).toBe(0)
    const fromCli = JSON.parse(cli.stdout) as Record<string, unknown>
    const anyPath = (r: { backend: object }) => ({ ...r, backend: { ...r.backend, path: 'x' } })
    expect(anyPath(lib)).toEqual(anyPath(fromCli as unknown as typeof lib))
    expect(lib).toMatchObject({ count: 2, dryRun: false, resetAttempts: false, filter: 'reason ~ /legacy/', stopped: null, warnings: [], backend: { recovered: null } })
    expect(familyLines(a.log, 'permanent').map(idOf).sort()).toEqual(['p1', 'p2', 'p4'])
    const moved = familyLines(a.log, 'retry').filter((l) => l.includes('legacy'))
    expect(moved.map(idOf).sort()).toEqual(['p3', 'p5'])
    // The same files, by name, as the CLI left.
    expect(fs.readdirSync(dirA).sort()).toEqual(fs.readdirSync(dirB).sort())
  })

  it('resetAttempts starts entries over; payload and id filters select', async () => {
    const b = buildAdminLog(tmpDir())
    const r = await requeue(b.log, { payload: '"sku":"A-', attempt: 5, resetAttempts: true })
    expect(r).toMatchObject({ count: 1, resetAttempts: true, filter: 'payload contains "\\"sku\\":\\"A-", attempt >= 5' })
    const moved = familyLines(b.log, 'retry').map((l) => JSON.parse(l) as { id: string; attempt: number; final?: string }).filter((e) => e.id === 'p1')
    expect(moved).toEqual([expect.objectContaining({ id: 'p1', attempt: 1 })])
    expect(moved[0].final).toBeUndefined()
  })

  it("removes a rewritten segment's metadata sidecar with it", async () => {
    const b = buildAdminLog(tmpDir())
    const dir = path.dirname(b.log)
    await stats(b.log, { fast: true }) // writes `<segment>.meta` caches
    const metas = () => fs.readdirSync(dir).filter((n) => n.endsWith('.meta'))
    expect(metas()).toContain('permanent-orders.000000000002.log.meta')
    await requeue(b.log, { reason: /legacy/ })
    expect(fs.existsSync(path.join(dir, 'permanent-orders.000000000002.log'))).toBe(false)
    for (const m of metas()) expect(fs.existsSync(path.join(dir, m.slice(0, -'.meta'.length))), m).toBe(true)
  })

  it('dryRun counts (with limit) and changes nothing, taking no lock', async () => {
    const b = buildAdminLog(tmpDir())
    const lock = await holdReplayLock(b.log)
    const before = snapshot(path.dirname(b.log))
    expect(await requeue(b.log, { reason: /legacy|declined/i, dryRun: true })).toMatchObject({ dryRun: true, count: 4, stopped: null, backend: { kept: 1 } })
    expect(await requeue(b.log, { reason: /legacy|declined/i, dryRun: true, limit: 3 })).toMatchObject({ count: 3, stopped: 'limit' })
    expect(snapshot(path.dirname(b.log))).toEqual(before)
    await lock.release()
  })

  it('rejects with DLQ_REPLAY_LOCKED while a replay holds the lock, changing nothing', async () => {
    const b = buildAdminLog(tmpDir())
    const lock = await holdReplayLock(b.log)
    const before = snapshot(path.dirname(b.log))
    const err = await requeue(b.log).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeadLetterError)
    expect(err).toMatchObject({ code: 'DLQ_REPLAY_LOCKED' })
    expect(snapshot(path.dirname(b.log))).toEqual(before)
    await lock.release()
  })

  it("rewrites records up to the log's maxRecordSize, and names the limit it used when one is longer", async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const big = envLine({ ts: Date.now(), attempt: 5, reason: 'big one', id: 'big', final: 'exhausted', payload: 'x'.repeat(3000) })
    const short = envLine({ ts: Date.now(), attempt: 5, reason: 'short one', id: 'short', final: 'exhausted', payload: 1 })
    writeLines(path.join(dir, 'permanent-orders.000000000001.log'), [short, big])
    const small = await requeue(log, { maxRecordSize: 1024 })
    // Only the long line's head could be read: the segment is left whole rather than cut.
    expect(small).toMatchObject({ count: 0, backend: { skipped: [{ segment: 'permanent-orders.000000000001.log' }] } })
    expect(familyLines(log, 'permanent')).toEqual([short, big])
    expect((small.backend as LocalChangeBackend).skipped[0].reason).toContain('over the 1 KiB line limit')
    expect(small.warnings.join('\n')).not.toContain('16 MiB')
    const enough = await requeue(log, { maxRecordSize: '4KiB' })
    expect(enough).toMatchObject({ count: 2, backend: { skipped: [] } })
    expect(familyLines(log, 'retry')).toEqual([short, big])
  })

  it('reports progress; an aborted signal leaves everything in place with aborted: true', async () => {
    const b = buildAdminLog(tmpDir())
    const ac = new AbortController()
    ac.abort()
    const r = await requeue(b.log, { signal: ac.signal })
    expect(r).toMatchObject({ stopped: 'abort', count: 0 })
    expect(familyLines(b.log, 'permanent').map(idOf).sort()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5'])
    const seen: number[] = []
    await requeue(b.log, { id: 'p2', onProgress: (p) => seen.push(p.done) })
    expect(seen.length).toBeGreaterThan(0)
  })
})
