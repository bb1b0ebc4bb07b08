/**
 * `dletter replay`: the real CLI against temp logs — outcomes and flags, --json, --dry-run,
 * progress, SIGINT, the replay lock (exit 2), bad handler modules (exit 3), bad input (exit 1),
 * and a live writer in another process.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { familyLines, holdReplayLock, runCli, snapshot, startCli } from './fixtures/cli-util.js'

const open: Logger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => {})
})

/** A log with `n` items {n: i}, ids item-i, closed again (no writer alive). */
async function makeLog(dir: string, n: number, opts: { ageMs?: number } = {}): Promise<string> {
  const file = path.join(dir, 'orders.log')
  const age = opts.ageMs ?? 0
  const dlq = await Logger.open(file, { sealPollInterval: 0, now: () => Date.now() - age })
  for (let i = 0; i < n; i++) await dlq.log({ n: i }, `failure ${i}`, 1, { id: `item-${i}` })
  await dlq.close()
  return file
}

/**
 * A handler module that appends each payload's n to $CALLS, fails items whose n is a
 * multiple of 5, and fails items whose n is a multiple of 7 with a PermanentError (by name:
 * the library accepts that, so a module needs no import).
 */
function writeHandler(dir: string, name = 'handler.mjs', exportStyle: 'default' | 'named' = 'default'): string {
  const file = path.join(dir, name)
  const body = `async (payload, envelope) => {
  fs.appendFileSync(process.env.CALLS, payload.n + ':' + envelope.attempt + '\\n')
  if (process.env.SLOW) await new Promise((r) => setTimeout(r, Number(process.env.SLOW)))
  if (payload.n % 7 === 0 && payload.n > 0) { const e = new Error('bad payload ' + payload.n); e.name = 'PermanentError'; throw e }
  if (payload.n % 5 === 0) throw new Error('downstream timeout after ' + (3000 + payload.n) + 'ms')
}`
  const src =
    exportStyle === 'default'
      ? `import fs from 'node:fs'\nexport default ${body}\n`
      : `import fs from 'node:fs'\nexport const handler = ${body}\nexport const other = 1\n`
  fs.writeFileSync(file, src)
  return file
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10))
}

function calls(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

describe('dletter replay', () => {
  it('delivers, requeues and moves to the permanent log; --json prints exactly one summary object', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 20)
    const handler = writeHandler(dir)
    const callFile = path.join(dir, 'calls.txt')
    const r = await runCli(['replay', log, '--handler', handler, '--json', '--max-attempts', '3'], { env: { CALLS: callFile } })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n').filter(Boolean)
    expect(lines).toHaveLength(1)
    const s = JSON.parse(lines[0]) as Record<string, unknown>
    // n = 0..19: multiples of 7 (7, 14) permanent; multiples of 5 (0, 5, 10, 15) requeued.
    expect(s).toMatchObject({ handled: 20, due: 20, delivered: 14, requeued: 4, permanent: 2, corrupt: 0, stopped: null, dryRun: false })
    expect(calls(callFile).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `${i}:1`).sort())
    const retry = familyLines(log, 'retry').map((l) => JSON.parse(l) as { id: string; attempt: number; dueTs: number; reason: string })
    expect(retry.map((e) => e.id).sort()).toEqual(['item-0', 'item-10', 'item-15', 'item-5'])
    for (const e of retry) {
      expect(e.attempt).toBe(2)
      expect(e.dueTs).toBeGreaterThan(Date.now() - 60_000)
      expect(e.reason).toMatch(/^downstream timeout after \d+ms$/)
    }
    const perm = familyLines(log, 'permanent').map((l) => JSON.parse(l) as { id: string; final: string })
    expect(perm.map((e) => [e.id, e.final]).sort()).toEqual([
      ['item-14', 'permanent'],
      ['item-7', 'permanent'],
    ])
  })

  it('a named `handler` export and a TypeScript module both work; human summary on stdout', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 3)
    const named = writeHandler(dir, 'named.mjs', 'named')
    const callFile = path.join(dir, 'calls.txt')
    const r1 = await runCli(['replay', log, '--handler', named, '--limit', '1', '--initial-wait', '1h', '--max-wait', '1h'], { env: { CALLS: callFile } })
    expect(r1.code).toBe(0)
    expect(r1.stdout).toMatch(/^replay of .*orders\.log \(stopped at --limit\)$/m)
    expect(r1.stdout).toMatch(/^\s+requeued\s+1\s/m) // item 0 fails (0 % 5 === 0)
    const ts = path.join(dir, 'handler.ts')
    fs.writeFileSync(ts, `import fs from 'node:fs'\nexport default async (p: { n: number }): Promise<void> => { fs.appendFileSync(process.env.CALLS!, 'ts' + p.n + '\\n') }\n`)
    // Run from the log's directory: the handler path is resolved against the cwd.
    const r2 = await runCli(['replay', 'orders.log', '--handler', 'handler.ts', '--json'], { cwd: dir, env: { CALLS: callFile } })
    expect(r2.code).toBe(0)
    expect(JSON.parse(r2.stdout)).toMatchObject({ handled: 3, delivered: 2, deferred: 1 }) // item 0 is not due yet
    expect(calls(callFile)).toEqual(['0:1', 'ts1', 'ts2'])
  })

  it('every replay option reaches the engine: --max-attempts, --ttl, --concurrency, --retries, waits', async () => {
    const dir = tmpDir()
    const handler = writeHandler(dir)
    const callFile = path.join(dir, 'calls.txt')
    const oldLog = await makeLog(fs.mkdtempSync(path.join(dir, 'a-')), 4, { ageMs: 3_600_000 })
    const expired = await runCli(['replay', oldLog, '--handler', handler, '--ttl', '30m', '--json'], { env: { CALLS: callFile } })
    expect(JSON.parse(expired.stdout)).toMatchObject({ handled: 4, expired: 4, due: 0 })
    expect(calls(callFile)).toEqual([])

    const log = await makeLog(fs.mkdtempSync(path.join(dir, 'b-')), 6)
    const once = await runCli(['replay', log, '--handler', handler, '--max-attempts', '1', '--json'], { env: { CALLS: callFile } })
    expect(JSON.parse(once.stdout)).toMatchObject({ handled: 6, permanent: 6, due: 0 }) // attempt 1 >= 1: out of attempts
    expect(familyLines(log, 'permanent').map((l) => (JSON.parse(l) as { final: string }).final)).toEqual(Array(6).fill('exhausted'))

    const log2 = await makeLog(fs.mkdtempSync(path.join(dir, 'c-')), 6)
    const r = await runCli(
      ['replay', log2, '--handler', handler, '--concurrency', '3', '--retries', '2', '--initial-wait', '1h', '--max-wait', '2h', '--json'],
      { env: { CALLS: callFile } },
    )
    expect(JSON.parse(r.stdout)).toMatchObject({ handled: 6, delivered: 4, requeued: 2 })
    // --retries 2: items 0 and 5 were tried 3 times each in this run; re-logs are due in about an hour.
    expect(calls(callFile).filter((c) => c === '0:1' || c === '5:1')).toHaveLength(6)
    const relogs = familyLines(log2, 'retry')
      .map((l) => JSON.parse(l) as { dueTs?: number; ts: number; attempt: number })
      .filter((e) => e.attempt === 2)
    expect(relogs).toHaveLength(2)
    for (const e of relogs) {
      expect(e.dueTs! - e.ts).toBeGreaterThanOrEqual(3_600_000)
      expect(e.dueTs! - e.ts).toBeLessThan(3_600_000 * 1.1 + 1)
    }
  })

  it('--max-record-size reaches the engine; an over-limit line is kept whole, never cut to its head', async () => {
    const dir = tmpDir()
    const handler = writeHandler(dir)
    const callFile = path.join(dir, 'calls.txt')
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log, { sealPollInterval: 0, maxRecordSize: '4M' })
    await dlq.log({ n: 1, big: 'x'.repeat(2 * 1024 * 1024) }, 'big', 1, { id: 'big' })
    await dlq.close()
    const snap = fs.readFileSync(log)

    // Below the record's size: quarantined, and the complete line is kept in its own file.
    const small = await runCli(['replay', log, '--handler', handler, '--max-record-size', '1M', '--json'], { env: { CALLS: callFile } })
    expect(small.code).toBe(0)
    expect(JSON.parse(small.stdout)).toMatchObject({ handled: 1, corrupt: 1, delivered: 0 })
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'corrupt-orders.log'), 'utf8')) as { rawFile: string }
    expect(fs.readFileSync(path.join(dir, rec.rawFile)).equals(snap.subarray(0, snap.length - 1))).toBe(true)

    // Large enough: delivered.
    fs.writeFileSync(log, snap)
    const big = await runCli(['replay', log, '--handler', handler, '--max-record-size', '4M', '--json'], { env: { CALLS: callFile } })
    expect(JSON.parse(big.stdout)).toMatchObject({ handled: 1, delivered: 1, corrupt: 0 })
  })

  it('--retry-delay, --checkpoint-every, --checkpoint-interval, --seal-timeout and --max-record-size are validated', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 2)
    const handler = writeHandler(dir)
    for (const bad of [
      ['--checkpoint-every', '0'],
      ['--checkpoint-interval', 'soon'],
      ['--seal-timeout', '5 parsecs'],
      ['--retry-delay', '-1'],
      ['--max-record-size', 'huge'],
    ]) {
      const r = await runCli(['replay', log, '--handler', handler, ...bad])
      expect(r.code, bad.join(' ')).toBe(1)
      expect(r.stderr).toContain(bad[0])
    }
    const ok = await runCli(
      ['replay', log, '--handler', handler, '--checkpoint-every', '1', '--checkpoint-interval', '10ms', '--seal-timeout', '1s', '--retry-delay', '5ms', '--json'],
      { env: { CALLS: path.join(dir, 'calls.txt') } },
    )
    expect(JSON.parse(ok.stdout)).toMatchObject({ handled: 2 })
  })

  it('--dry-run calls nothing and changes nothing', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 10)
    const handler = writeHandler(dir)
    const callFile = path.join(dir, 'calls.txt')
    const before = snapshot(dir)
    const r = await runCli(['replay', log, '--handler', handler, '--dry-run', '--json'], { env: { CALLS: callFile } })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, handled: 10, due: 10, delivered: 0, segmentsRemoved: 0 })
    expect(snapshot(dir)).toEqual(before)
    const human = await runCli(['replay', log, '--handler', handler, '--dry-run'], { env: { CALLS: callFile } })
    expect(human.stdout).toContain('dry run of')
    expect(human.stdout).toMatch(/^\s+due\s+10\s/m)
    expect(snapshot(dir)).toEqual(before)
  })

  it('prints progress lines on stderr when not a terminal, and none with --json', async () => {
    const dir = tmpDir()
    const callFile = path.join(dir, 'calls.txt')
    const handler = writeHandler(dir)
    const log1 = await makeLog(fs.mkdtempSync(path.join(dir, 'a-')), 30)
    const log2 = await makeLog(fs.mkdtempSync(path.join(dir, 'b-')), 30)
    const env = { CALLS: callFile, DLETTER_PROGRESS_INTERVAL: '0' }
    const [plain, json] = await Promise.all([
      runCli(['replay', log1, '--handler', handler], { env }),
      runCli(['replay', log2, '--handler', handler, '--json'], { env }),
    ])
    expect(plain.code).toBe(0)
    expect(plain.stderr).toMatch(/^replay: \d+% \(.+ of .+\), \d+ items$/m)
    expect(plain.stderr).toMatch(/^replay: 100% /m)
    expect(json.code).toBe(0)
    expect(json.stderr).toBe('')
    const noProgress = await runCli(['replay', log1, '--handler', handler, '--no-progress'], { env })
    expect(noProgress.stderr).toBe('')
  })

  it('SIGINT stops taking items, checkpoints and exits 0 with aborted: true', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 200)
    const handler = writeHandler(dir)
    const callFile = path.join(dir, 'calls.txt')
    const { child, done } = startCli(['replay', log, '--handler', handler, '--json'], { env: { CALLS: callFile, SLOW: '20' } })
    // Signal once the handler has demonstrably been called.
    await until(() => calls(callFile).length >= 3)
    child.kill('SIGINT')
    const res = await done
    expect(res.code).toBe(0)
    const s = JSON.parse(res.stdout) as { stopped: string | null; handled: number; delivered: number; permanent: number }
    expect(s.stopped).toBe('abort')
    expect(s.handled).toBeLessThan(200)
    expect(res.stderr).toMatch(/SIGINT received: finishing in-flight items/)
    expect(res.stderr).toMatch(/stopped early by SIGINT/)
    // Everything not delivered or moved is still pending (from the checkpoint on) for the next run.
    const stats = await runCli(['stats', log, '--json'])
    expect(JSON.parse(stats.stdout).retry.count).toBe(200 - s.delivered - s.permanent)
    expect(fs.existsSync(path.join(dir, '.orders.log.replay.lock'))).toBe(false)
    const next = await runCli(['replay', log, '--handler', handler, '--json'], { env: { CALLS: callFile } })
    expect(JSON.parse(next.stdout)).toMatchObject({ stopped: null, handled: 200 - s.delivered - s.permanent })
  })

  it('replays what a live writer in another process has not sealed yet', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const writer = forkFixture('cli-writer.ts', [log, '12', '0'])
    try {
      await new Promise<void>((resolve) => writer.once('message', () => resolve()))
      const handler = writeHandler(dir)
      const callFile = path.join(dir, 'calls.txt')
      const r = await runCli(['replay', log, '--handler', handler, '--json'], { env: { CALLS: callFile } })
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ handled: 12, warnings: [] })
      expect(calls(callFile)).toHaveLength(12)
    } finally {
      writer.send('close')
      await exited(writer)
    }
  })
})

describe('dletter replay failures', () => {
  it('exits 2 while another replay holds the lock, changing nothing', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 3)
    const handler = writeHandler(dir)
    holdReplayLock(log)
    const before = snapshot(dir)
    const r = await runCli(['replay', log, '--handler', handler, '--json'], { env: { CALLS: path.join(dir, 'calls.txt') } })
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(`dletter: a replay of this log is already running (pid ${process.pid}, lock ${path.join(dir, '.orders.log.replay.lock')}); try again when it has finished\n`)
    expect(snapshot(dir)).toEqual(before)
  })

  it('exits 3 for a handler module that is missing, exports no function, or throws on import', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 3)
    fs.writeFileSync(path.join(dir, 'nofn.mjs'), 'export const config = { a: 1 }\nexport default 42\n')
    fs.writeFileSync(path.join(dir, 'throws.mjs'), "throw new Error('database url not set')\n")
    const before = snapshot(dir)
    const [missing, nofn, throws, verbose] = await Promise.all([
      runCli(['replay', log, '--handler', 'nope.mjs'], { cwd: dir }),
      runCli(['replay', log, '--handler', 'nofn.mjs'], { cwd: dir }),
      runCli(['replay', log, '--handler', 'throws.mjs'], { cwd: dir }),
      runCli(['replay', log, '--handler', 'throws.mjs', '--verbose'], { cwd: dir }),
    ])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toBe(`dletter: handler module not found: ${path.join(dir, 'nope.mjs')}\n`)
    expect(nofn.code).toBe(3)
    expect(nofn.stderr).toMatch(/^dletter: handler module nofn\.mjs does not export a function: .*\(it exports: config, default\)\n$/)
    expect(throws.code).toBe(3)
    expect(throws.stderr).toBe('dletter: cannot load handler module throws.mjs: database url not set\n')
    expect(verbose.code).toBe(3)
    expect(verbose.stderr).toMatch(/^dletter: cannot load handler module throws\.mjs: database url not set\n/)
    expect(verbose.stderr).toMatch(/\n\s+at /) // the stack, only with --verbose
    expect(snapshot(dir)).toEqual(before)
  })

  it('exits 1 for a missing log directory, a directory as the log, or inconsistent waits', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 1)
    const handler = writeHandler(dir)
    const [noDir, isDir, waits] = await Promise.all([
      runCli(['replay', path.join(dir, 'missing', 'orders.log'), '--handler', handler]),
      runCli(['replay', dir, '--handler', handler]),
      runCli(['replay', log, '--handler', handler, '--initial-wait', '10s', '--max-wait', '1s']),
    ])
    expect(noDir.code).toBe(1)
    expect(noDir.stderr).toBe(`dletter: no such directory: ${path.join(dir, 'missing')} (from log path ${path.join(dir, 'missing', 'orders.log')})\n`)
    expect(isDir.code).toBe(1)
    expect(isDir.stderr).toMatch(/is a directory; pass the log file path, e\.g\. .*orders\.log\n$/)
    expect(waits.code).toBe(1)
    expect(waits.stderr).toBe('dletter: --max-wait must be >= initialWait (10000 ms), got 1000\n')
  })
})
