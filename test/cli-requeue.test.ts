/**
 * `dletter requeue`: which entries move and how (unchanged, or reset), what stays byte for
 * byte, --dry-run, --limit, the replay lock (exit 2), a live writer's unsealed permanent
 * entries, and the moved entries being replayed afterwards.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, familyLines, holdReplayLock, runCli, snapshot, writeLines } from './fixtures/cli-util.js'

const OLD_MTIME = Date.parse('2025-01-02T03:04:05Z')

interface Built {
  log: string
  matching: string[]
  other: string[]
}

/** Permanent entries in a writer segment, a replayer segment and the active file; "net" reasons match. */
function buildLog(dir: string): Built {
  const now = Date.now()
  const log = path.join(dir, 'orders.log')
  const e = (i: number, reason: string, extra: Partial<Parameters<typeof envLine>[0]> = {}) =>
    envLine({ ts: now - 1000 * i, attempt: 5, reason, id: `p${i}`, firstTs: now - 100_000, final: 'exhausted', ...extra, payload: { i, big: 12345678901234567890, s: 'é€😀' } })
  const seg1 = [e(0, 'net down'), e(1, 'card declined'), 'this line is not an envelope', e(2, 'net timeout', { dueTs: now + 5000, errorName: 'TimeoutError', errorCode: 'ETIMEDOUT' })]
  const seg2 = [e(3, 'card expired'), e(4, 'net reset', { final: 'permanent', attempt: 2 })]
  const active = [e(5, 'net gone'), e(6, 'fraud')]
  writeLines(path.join(dir, 'permanent-orders.000000000001.log'), seg1, { mtime: OLD_MTIME })
  writeLines(path.join(dir, 'permanent-orders.r000000000001.log'), seg2, { mtime: OLD_MTIME + 1000 })
  writeLines(path.join(dir, 'permanent-orders.log'), active)
  writeLines(path.join(dir, 'orders.000000000001.log'), [envLine({ ts: now, attempt: 1, reason: 'pending', id: 'q0', payload: 0 })])
  return {
    log,
    matching: [seg1[0], seg1[3], seg2[1], active[0]],
    other: [seg1[1], seg1[2], seg2[0], active[1]],
  }
}

const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.includes('rewrite') || n.endsWith('.lock'))
const payloadText = (line: string) => line.slice(line.indexOf(',"payload":') + 11, -1)

describe('dletter requeue', () => {
  it('moves matching entries to the retry log, one redrive counted, and keeps the rest byte for byte', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const retryBefore = familyLines(b.log, 'retry')
    const r = await runCli(['requeue', b.log, '--reason', '^net', '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 4, dryRun: false, resetAttempts: false, stopped: null, warnings: [], backend: { kept: 4, recovered: null } })
    const redriven = b.matching.map((l) => l.replace(',"payload":', ',"redrives":1,"payload":'))
    expect(familyLines(b.log, 'retry').sort()).toEqual([...retryBefore, ...redriven].sort())
    expect(familyLines(b.log, 'permanent').sort()).toEqual([...b.other].sort())
    expect(leftovers(dir)).toEqual([])
    // Rewritten segments keep their age (retention by maxAge and replay order go by mtime).
    const kept = fs.readdirSync(dir).filter((n) => /^permanent-orders\.r\d+\.log$/.test(n))
    // (The third is the sealed active file: its age is now.)
    const mtimes = kept.map((n) => fs.statSync(path.join(dir, n)).mtimeMs).sort()
    expect(mtimes).toHaveLength(3)
    expect(mtimes.slice(0, 2)).toEqual([OLD_MTIME, OLD_MTIME + 1000])
    expect(fs.existsSync(path.join(dir, 'permanent-orders.000000000001.log'))).toBe(false)

    const human = await runCli(['requeue', b.log, '--reason', '^card'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^requeued 2 entries \(reason ~ \/\^card\/\) from the permanent log to the retry log; .*$/m)
    expect(human.stdout).toContain('without --reset-attempts')
  })

  it('--reset-attempts starts entries over, payload bytes untouched, and replay delivers them', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const r = await runCli(['requeue', b.log, '--reason', '^net', '--reset-attempts', '--json'])
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 4, resetAttempts: true })
    const moved = familyLines(b.log, 'retry').filter((l) => !l.includes('"pending"'))
    expect(moved).toHaveLength(4)
    const byId = new Map(b.matching.map((l) => [(JSON.parse(l) as { id: string }).id, l]))
    for (const line of moved) {
      const env = JSON.parse(line) as Record<string, unknown>
      const orig = JSON.parse(byId.get(env.id as string)!) as Record<string, unknown>
      expect(env.attempt).toBe(1)
      expect(env).not.toHaveProperty('final')
      expect(env).not.toHaveProperty('dueTs')
      expect(env).toMatchObject({ ts: orig.ts, reason: orig.reason, firstTs: orig.firstTs })
      if (orig.errorCode) expect(env).toMatchObject({ errorName: 'TimeoutError', errorCode: 'ETIMEDOUT' })
      expect(payloadText(line)).toBe(payloadText(byId.get(env.id as string)!)) // 12345678901234567890 survives
    }
    fs.writeFileSync(path.join(dir, 'h.mjs'), "import fs from 'node:fs'\nexport default (p, e) => { fs.appendFileSync(process.env.OUT, e.id + ':' + e.attempt + '\\n') }\n")
    const rep = await runCli(['replay', b.log, '--handler', path.join(dir, 'h.mjs'), '--json', '--max-attempts', '2'], { env: { OUT: path.join(dir, 'out.txt') } })
    expect(JSON.parse(rep.stdout)).toMatchObject({ delivered: 5, permanent: 0 })
    expect(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8').split('\n').filter(Boolean).sort()).toEqual(['p0:1', 'p2:1', 'p4:1', 'p5:1', 'q0:1'])
  })

  it('--dry-run counts (respecting --limit) and changes nothing; --limit caps a real run', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const before = snapshot(dir)
    const [dry, dryLimited, human] = await Promise.all([
      runCli(['requeue', b.log, '--reason', '^net', '--dry-run', '--json']),
      runCli(['requeue', b.log, '--dry-run', '--limit', '3', '--json']),
      runCli(['requeue', b.log, '--reason', '^net', '--dry-run']),
    ])
    // The same counts as the real run below (the unparseable line stays, counted as kept).
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, count: 4, backend: { kept: 4 } })
    expect(JSON.parse(dryLimited.stdout)).toMatchObject({ dryRun: true, count: 3, stopped: 'limit' })
    expect(human.stdout).toMatch(/^dry run: would move 4 entries \(reason ~ \/\^net\/\) .* Nothing was changed\.$/m)
    expect(human.stdout).toContain(`dletter inspect ${b.log} --permanent --reason '^net'`)
    expect(snapshot(dir)).toEqual(before)

    const r = await runCli(['requeue', b.log, '--reason', '^net', '--limit', '3', '--json'])
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 3, stopped: 'limit' })
    expect(familyLines(b.log, 'retry')).toHaveLength(1 + 3)
    expect(familyLines(b.log, 'permanent')).toHaveLength(8 - 3)
  })

  it('the human summary and its suggested command are terminal-safe and paste back as typed', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const reason = "it's \x1b(red)"
    const r = await runCli(['requeue', b.log, '--reason', reason, '--dry-run'])
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain('\x1b')
    expect(r.stdout).toContain("(reason ~ /it's \\x1b(red)/)")
    expect(r.stdout).toContain(`dletter inspect ${b.log} --permanent --reason 'it'\\''s \\x1b(red)'`)
  })

  it('exits 2 while a replay holds the lock, changing nothing', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    holdReplayLock(b.log)
    const before = snapshot(dir)
    const r = await runCli(['requeue', b.log, '--reset-attempts'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^dletter: a replay of this log is already running \(pid \d+, lock .*\); try again when it has finished\n$/)
    expect(r.stdout).toBe('')
    expect(snapshot(dir)).toEqual(before)
  })

  it('includes the entries a live writer holds in its active permanent file', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const writer = forkFixture('cli-writer.ts', [log, '0', '5'])
    try {
      await new Promise<void>((resolve) => writer.once('message', () => resolve()))
      const r = await runCli(['requeue', log, '--reason', '^live permanent [0-2]$', '--json'])
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ count: 3, warnings: [], backend: { kept: 2 } })
    } finally {
      writer.send('close')
      await exited(writer)
    }
    expect(familyLines(log, 'retry').map((l) => (JSON.parse(l) as { id: string }).id).sort()).toEqual(['livep-0', 'livep-1', 'livep-2'])
    expect(familyLines(log, 'permanent').map((l) => (JSON.parse(l) as { id: string }).id).sort()).toEqual(['livep-3', 'livep-4'])
  })
})
