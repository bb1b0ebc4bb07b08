/**
 * `dletter purge`: refuses without --yes, removes exactly the matching entries of the
 * permanent log or the corrupt quarantine (the rest byte for byte), --dry-run, the replay
 * lock (exit 2), bad input (exit 1).
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from './helpers/tmp.js'
import { envLine, familyLines, holdReplayLock, runCli, snapshot, writeLines } from './fixtures/cli-util.js'

const D = 86_400_000

interface Built {
  log: string
  old: string[]
  recent: string[]
  corrupt: string[]
}

function buildLog(dir: string): Built {
  const now = Date.now()
  const log = path.join(dir, 'orders.log')
  const p = (i: number, ageDays: number, reason: string) =>
    envLine({ ts: now - ageDays * D, attempt: 5, reason, id: `p${i}`, final: 'exhausted', payload: { i } })
  const old = [p(0, 40, 'card declined'), p(1, 35, 'timeout'), p(2, 31, 'timeout')]
  const recent = [p(3, 20, 'card declined'), p(4, 1, 'timeout')]
  writeLines(path.join(dir, 'permanent-orders.000000000001.log'), [old[0], recent[0], old[1]])
  writeLines(path.join(dir, 'permanent-orders.000000000002.log'), [old[2]])
  writeLines(path.join(dir, 'permanent-orders.log'), [recent[1]])
  const corrupt = [
    JSON.stringify({ ts: now - 40 * D, segment: 'orders.000000000001.log', offset: 0, length: 1, error: 'invalid JSON', rawEncoding: 'utf8', raw: 'x', rawTruncated: false }),
    JSON.stringify({ ts: now - D, segment: 'orders.000000000002.log', offset: 0, length: 0, error: 'empty line', rawEncoding: 'utf8', raw: '', rawTruncated: false }),
  ]
  writeLines(path.join(dir, 'corrupt-orders.log'), corrupt)
  writeLines(path.join(dir, 'orders.000000000003.log'), [envLine({ ts: now - 50 * D, attempt: 1, reason: 'timeout', id: 'q', payload: 0 })])
  return { log, old, recent, corrupt }
}

describe('dletter purge', () => {
  it('refuses to run without --yes, changing nothing', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const before = snapshot(dir)
    const [all, filtered] = await Promise.all([runCli(['purge', b.log, '--permanent']), runCli(['purge', b.log, '--corrupt', '--older-than', '30d'])])
    expect(all.code).toBe(1)
    expect(all.stderr).toBe('dletter: refusing to purge without --yes: this deletes every entry of the permanent log for good (use --dry-run to see how many)\n')
    expect(filtered.code).toBe(1)
    expect(filtered.stderr).toMatch(/refusing to purge without --yes: this deletes the corrupt-log entries matching older than 30d/)
    expect(snapshot(dir)).toEqual(before)
  })

  it('--permanent --older-than 30d --yes removes exactly the old entries', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const retryBefore = familyLines(b.log, 'retry')
    const r = await runCli(['purge', b.log, '--permanent', '--older-than', '30d', '--yes', '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'permanent', count: 3, dryRun: false, backend: { kept: 2, rewritten: 2 } })
    expect(familyLines(b.log, 'permanent').sort()).toEqual([...b.recent].sort())
    expect(familyLines(b.log, 'retry')).toEqual(retryBefore) // the retry log is never purged
    expect(fs.readdirSync(dir).filter((n) => n.includes('rewrite') || n.endsWith('.lock'))).toEqual([])
    const again = await runCli(['purge', b.log, '--permanent', '--reason', 'declined', '--yes'])
    expect(again.stdout).toMatch(/^removed 1 entry \(reason ~ \/declined\/\) from the permanent log; 1 kept, /m)
    expect(familyLines(b.log, 'permanent')).toEqual([b.recent[1]])
  })

  it('--limit caps how many are removed', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const r = await runCli(['purge', b.log, '--permanent', '--reason', 'timeout', '--limit', '2', '--yes', '--json'])
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 2, stopped: 'limit' })
    expect(familyLines(b.log, 'permanent')).toHaveLength(5 - 2)
  })

  it('--corrupt removes matching quarantine records, and the file when none is left', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const file = path.join(dir, 'corrupt-orders.log')
    const r = await runCli(['purge', b.log, '--corrupt', '--reason', '^invalid', '--yes', '--json'])
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'corrupt', count: 1, backend: { kept: 1 } })
    expect(fs.readFileSync(file, 'utf8')).toBe(b.corrupt[1] + '\n')
    const all = await runCli(['purge', b.log, '--corrupt', '--yes', '--json'])
    expect(JSON.parse(all.stdout)).toMatchObject({ count: 1, backend: { kept: 0 } })
    expect(fs.existsSync(file)).toBe(false)
    expect(familyLines(b.log, 'permanent')).toHaveLength(5)
  })

  it('--dry-run needs no --yes, counts and changes nothing', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const before = snapshot(dir)
    const [perm, corrupt, human] = await Promise.all([
      runCli(['purge', b.log, '--permanent', '--older-than', '30d', '--dry-run', '--json']),
      runCli(['purge', b.log, '--corrupt', '--older-than', '30d', '--dry-run', '--json']),
      runCli(['purge', b.log, '--permanent', '--older-than', '30d', '--dry-run']),
    ])
    expect(JSON.parse(perm.stdout)).toMatchObject({ dryRun: true, count: 3, backend: { kept: 2 } })
    expect(JSON.parse(corrupt.stdout)).toMatchObject({ dryRun: true, count: 1, backend: { kept: 1 } })
    expect(human.stdout).toBe('dry run: would remove 3 entries (older than 30d) from the permanent log; 2 would stay. Nothing was changed.\n')
    expect(snapshot(dir)).toEqual(before)
  })

  it('exits 2 while a replay holds the lock; 1 without a target or with --id on the corrupt log', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    holdReplayLock(b.log)
    const before = snapshot(dir)
    const [locked, noTarget, both, idCorrupt] = await Promise.all([
      runCli(['purge', b.log, '--permanent', '--yes']),
      runCli(['purge', b.log, '--yes']),
      runCli(['purge', b.log, '--permanent', '--corrupt', '--yes']),
      runCli(['purge', b.log, '--corrupt', '--id', 'p1', '--yes']),
    ])
    expect(locked.code).toBe(2)
    expect(locked.stderr).toMatch(/^dletter: a replay of this log is already running/)
    expect(noTarget.code).toBe(1)
    expect(noTarget.stderr).toBe('dletter: purge needs --permanent or --corrupt (the retry log is never purged)\n')
    expect(both.code).toBe(1)
    expect(idCorrupt.code).toBe(1)
    expect(snapshot(dir)).toEqual(before)
  })
})
