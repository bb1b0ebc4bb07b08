/**
 * Library `purge()`: deletes permanent-log entries or corrupt-log records for good, exactly
 * as `dletter purge --json` does; `log` is required (the retry log is never purged).
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { purge } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { buildAdminLog, idOf } from './fixtures/admin-log.js'
import { familyLines, runCli, snapshot } from './fixtures/cli-util.js'

describe('purge()', () => {
  it("log: 'permanent' removes the matching entries and returns what `purge --json` prints", async () => {
    const [dirA, dirB] = [tmpDir(), tmpDir()]
    const now = Date.now()
    const a = buildAdminLog(dirA, now)
    const b = buildAdminLog(dirB, now)
    const lib = await purge(a.log, { kind: 'permanent', olderThan: '35h' })
    const cli = await runCli(['purge', b.log, '--permanent', '--older-than', '35h', '--yes', '--json'])
    expect(cli.code, cli.stderr).toBe(0)
    const anyPath = (r: { backend: object }) => ({ ...r, backend: { ...r.backend, path: 'x' } })
    expect(anyPath(lib)).toEqual(anyPath(JSON.parse(cli.stdout) as typeof lib))
    expect(lib).toMatchObject({ kind: 'permanent', count: 2, filter: 'older than 35h', dryRun: false })
    expect(familyLines(a.log, 'permanent').map(idOf).sort()).toEqual(['p3', 'p4', 'p5'])
    expect(fs.readdirSync(dirA).sort()).toEqual(fs.readdirSync(dirB).sort())
  })

  it('a reason substring, a limit, and the retry log untouched', async () => {
    const b = buildAdminLog(tmpDir())
    const retryBefore = familyLines(b.log, 'retry')
    expect(await purge(b.log, { kind: 'permanent', reason: 'legacy', limit: 1 })).toMatchObject({ count: 1, stopped: 'limit' })
    expect(familyLines(b.log, 'permanent').map(idOf).sort()).toEqual(['p1', 'p2', 'p4', 'p5'])
    expect(familyLines(b.log, 'retry')).toEqual(retryBefore)
  })

  it("log: 'corrupt' rewrites the quarantine; the file goes when nothing is left", async () => {
    const b = buildAdminLog(tmpDir())
    const corruptFile = path.join(path.dirname(b.log), 'corrupt-orders.log')
    expect(await purge(b.log, { kind: 'corrupt', reason: /JSON/ })).toMatchObject({ kind: 'corrupt', count: 1, backend: { kept: 1 } })
    expect(fs.readFileSync(corruptFile, 'utf8')).toBe(b.corrupt[1] + '\n')
    expect(await purge(b.log, { kind: 'corrupt' })).toMatchObject({ count: 1, backend: { kept: 0 } })
    expect(fs.existsSync(corruptFile)).toBe(false)
  })

  it('dryRun counts and changes nothing', async () => {
    const b = buildAdminLog(tmpDir())
    const before = snapshot(path.dirname(b.log))
    expect(await purge(b.log, { kind: 'permanent', reason: /declined/i, dryRun: true })).toMatchObject({ dryRun: true, count: 2, backend: { kept: 3 } })
    expect(await purge(b.log, { kind: 'corrupt', since: '10h', dryRun: true })).toMatchObject({ dryRun: true, count: 1, backend: { kept: 1 } })
    expect(snapshot(path.dirname(b.log))).toEqual(before)
  })
})
