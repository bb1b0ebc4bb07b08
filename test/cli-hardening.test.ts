/**
 * CLI runs that must not lie or pollute (issue 9 §6): stdout holds the summary alone whatever
 * the handler prints, a run whose handler never settles is never reported as a success, a dry
 * run loads no handler, stored text cannot drive the terminal, the exit-code list is complete,
 * and a requeue or purge holding the replay lock is named as such.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { logPaths } from '../src/store/segments.js'
import { tmpDir } from './helpers/tmp.js'
import { type CliResult, envLine, runCli, startCli, writeLines } from './fixtures/cli-util.js'

/** A log of `n` items {n: i}, ids item-i, closed again (no writer alive). */
async function makeLog(dir: string, n: number): Promise<string> {
  const file = path.join(dir, 'orders.log')
  const dlq = await Logger.open(file, { sealPollInterval: 0 })
  for (let i = 0; i < n; i++) await dlq.log({ n: i }, `failure ${i}`, 1, { id: `item-${i}` })
  await dlq.close()
  return file
}

/** Poll `cond` until it holds; fail (instead of hanging) if the child exits first or after 60 s. */
async function until(cond: () => boolean, what: string, gone?: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000
  while (!cond()) {
    if (gone?.()) throw new Error(`the CLI exited before ${what}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function lines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

/** Every stored line of the retry family (sealed segments of both owners and the active file). */
function retryEnvelopes(log: string): Array<{ id: string; attempt: number; reason: string }> {
  const p = logPaths(log)
  return fs
    .readdirSync(p.dir)
    .filter((n) => p.retry.pattern.test(n) || path.join(p.dir, n) === p.retry.active)
    .flatMap((n) => lines(path.join(p.dir, n)))
    .map((l) => JSON.parse(l) as { id: string; attempt: number; reason: string })
}

describe('replay: stdout holds the summary alone', () => {
  it("a handler's console.log and process.stdout.write go to stderr; --json stdout is one JSON document", async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 4)
    const handler = path.join(dir, 'noisy.mjs')
    fs.writeFileSync(
      handler,
      `console.log('loading the handler module')
export default async (payload) => {
  console.log('handling', payload.n)
  console.info({ info: payload.n })
  process.stdout.write('raw write ' + payload.n + '\\n')
  if (payload.n === 3) throw new Error('fails once')
}
`,
    )
    const r = await runCli(['replay', log, '--handler', handler, '--json'])
    expect(r.code).toBe(0)
    // Exactly one JSON document, nothing before or after it.
    expect(r.stdout.endsWith('\n')).toBe(true)
    expect(JSON.parse(r.stdout)).toMatchObject({ handled: 4, delivered: 3, requeued: 1 })
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    // What the handler printed is not lost: it is on stderr.
    expect(r.stderr).toContain('loading the handler module')
    for (let n = 0; n < 4; n++) {
      expect(r.stderr).toContain(`handling ${n}`)
      expect(r.stderr).toContain(`raw write ${n}`)
    }

    // The human summary is the only thing on stdout too.
    const log2 = await makeLog(fs.mkdtempSync(path.join(dir, 'b-')), 2)
    const human = await runCli(['replay', log2, '--handler', handler, '--no-progress'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^replay of .*orders\.log\n/)
    expect(human.stdout).not.toContain('handling')
    expect(human.stdout).not.toContain('raw write')
    expect(human.stderr).toContain('handling 1')
  })
})

describe('replay: a handler that never settles', () => {
  function hangingHandler(dir: string): string {
    const file = path.join(dir, 'hang.mjs')
    fs.writeFileSync(file, `import fs from 'node:fs'\nexport default (payload) => { fs.appendFileSync(process.env.CALLS, payload.n + '\\n'); return new Promise(() => {}) }\n`)
    return file
  }

  it('keeps the run alive: a first SIGTERM waits for the call, a second exits 130 and releases the replay lock', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 3)
    const calls = path.join(dir, 'calls.txt')
    const lock = logPaths(log).replayLock
    const { child, done } = startCli(['replay', log, '--handler', hangingHandler(dir), '--json'], { env: { CALLS: calls } })
    let result: CliResult | undefined
    void done.then((r) => (result = r))
    let stderr = ''
    child.stderr!.on('data', (d: string) => (stderr += d))
    const gone = () => result !== undefined
    await until(() => lines(calls).length === 1, 'the handler call', gone)
    expect(fs.existsSync(lock)).toBe(true)
    child.kill('SIGTERM')
    // Graceful stop waits for the in-flight call, which never settles: the process must stay.
    await until(() => stderr.includes('SIGTERM received'), 'the first SIGTERM to be taken', gone)
    child.kill('SIGTERM')
    const r = await done
    expect(r.code).toBe(130)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('second SIGTERM: exiting now')
    expect(fs.existsSync(lock)).toBe(false)
    // The item is still pending for the next run.
    expect(retryEnvelopes(log).map((e) => e.id).sort()).toEqual(['item-0', 'item-1', 'item-2'])
  })

  it('with --handler-timeout, a hung call is re-logged like a failure and the run exits 0 with the lock released', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 3)
    const calls = path.join(dir, 'calls.txt')
    const r = await runCli(['replay', log, '--handler', hangingHandler(dir), '--handler-timeout', '200ms', '--concurrency', '3', '--json'], {
      env: { CALLS: calls },
    })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ handled: 3, delivered: 0, requeued: 3, stopped: null })
    expect(lines(calls).sort()).toEqual(['0', '1', '2'])
    const relogged = retryEnvelopes(log)
    expect(relogged.map((e) => [e.id, e.attempt]).sort()).toEqual([
      ['item-0', 2],
      ['item-1', 2],
      ['item-2', 2],
    ])
    for (const e of relogged) expect(e.reason).toMatch(/did not settle within 200 ms/)
    expect(fs.existsSync(logPaths(log).replayLock)).toBe(false)
  })

  it('a run the handler ends with process.exit(0) exits 3, says so, and releases the replay lock', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 3)
    const handler = path.join(dir, 'exits.mjs')
    fs.writeFileSync(handler, 'export default async () => { process.exit(0) }\n')
    const r = await runCli(['replay', log, '--handler', handler, '--json'])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/the replay ended before it finished/)
    expect(fs.existsSync(logPaths(log).replayLock)).toBe(false)
    expect(retryEnvelopes(log)).toHaveLength(3)
  })
})

describe('replay --dry-run', () => {
  it('loads no handler: none given, a missing one, or one with side effects on import', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 5)
    const marker = path.join(dir, 'imported.txt')
    const effects = path.join(dir, 'effects.mjs')
    fs.writeFileSync(effects, `import fs from 'node:fs'\nfs.writeFileSync(${JSON.stringify(marker)}, 'imported')\nexport default async () => {}\n`)
    const [none, missing, withEffects] = await Promise.all([
      runCli(['replay', log, '--dry-run', '--json']),
      runCli(['replay', log, '--dry-run', '--json', '--handler', path.join(dir, 'nope.mjs')]),
      runCli(['replay', log, '--dry-run', '--json', '--handler', effects]),
    ])
    for (const r of [none, missing, withEffects]) {
      expect(r.code).toBe(0)
      expect(r.stderr).toBe('')
      expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, handled: 5, due: 5, delivered: 0 })
    }
    expect(fs.existsSync(marker)).toBe(false)
  })

  it('without --dry-run, --handler is still required (exit 1)', async () => {
    const dir = tmpDir()
    const log = await makeLog(dir, 1)
    const r = await runCli(['replay', log])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe("dletter: required option '--handler <module>' not specified (only --dry-run runs without a handler)\n")
  })
})

describe('--help exit codes', () => {
  it('lists every code the CLI exits with, 130 included, on the program and on each command', async () => {
    const results = await Promise.all([['--help'], ...['replay', 'stats', 'inspect', 'requeue', 'purge'].map((c) => [c, '--help'])].map((a) => runCli(a)))
    for (const r of results) {
      expect(r.code).toBe(0)
      const list = r.stdout.slice(r.stdout.indexOf('Exit codes:'))
      for (const code of ['0', '1', '2', '3', '130']) expect(list).toMatch(new RegExp(`^\\s+${code}\\s+\\S`, 'm'))
    }
  })
})

describe('stored text is printed terminal-safe', () => {
  const TITLE = '\x1b]0;pwned\x07'
  const CLEAR = '\x1b[2K'
  const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/

  function hostileLog(dir: string): string {
    const log = path.join(dir, 'orders.log')
    const now = Date.now()
    const reason = `timeout ${TITLE}${CLEAR}\r\u009b2J done`
    const e = (i: number, final?: string) =>
      envLine({ ts: now - i * 1000, attempt: 2, reason, id: `id\x1b[31m${i}\u202e`, final, payload: { note: `pay\u202eload\x7f\u009b${i}`, bell: '\x07' } })
    writeLines(path.join(dir, 'orders.000000000001.log'), [e(0), e(1)])
    writeLines(path.join(dir, 'permanent-orders.000000000001.log'), [e(2, 'exhausted')])
    writeLines(path.join(dir, 'corrupt-orders.log'), [JSON.stringify({ ts: now, segment: `seg\x1b[2K`, offset: 0, error: `bad ${TITLE}`, raw: `raw ${CLEAR}\u202e` })])
    return log
  }

  it('inspect --human (retry, permanent, corrupt) shows control characters as visible escapes', async () => {
    const dir = tmpDir()
    const log = hostileLog(dir)
    const [retry, perm, corrupt] = await Promise.all([
      runCli(['inspect', log, '--human']),
      runCli(['inspect', log, '--human', '--permanent']),
      runCli(['inspect', log, '--human', '--corrupt']),
    ])
    for (const r of [retry, perm, corrupt]) {
      expect(r.code).toBe(0)
      expect(r.stdout).not.toMatch(RAW)
      expect(r.stderr).not.toMatch(RAW)
    }
    expect(retry.stdout).toContain('timeout \\x1b]0;pwned\\x07\\x1b[2K\\x0d\\x9b2J done')
    expect(retry.stdout).toContain('id\\x1b[31m0\\u202e')
    expect(retry.stdout).toContain('pay\\u202eload\\x7f\\x9b0')
    expect(retry.stdout).toContain('-- 2 entries of the retry log')
    expect(perm.stdout).toContain('\\x1b]0;pwned\\x07')
    expect(corrupt.stdout).toContain('seg\\x1b[2K@0')
    expect(corrupt.stdout).toContain('bad \\x1b]0;pwned\\x07')
    expect(corrupt.stdout).toContain('raw \\x1b[2K\\u202e')
  })

  it('inspect --json keeps each stored line exactly (JSON escapes are already inert)', async () => {
    const dir = tmpDir()
    const log = hostileLog(dir)
    const r = await runCli(['inspect', log, '--json'])
    expect(r.code).toBe(0)
    const stored = lines(path.join(dir, 'orders.000000000001.log'))
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(stored)
  })

  it('stats shows the top reasons with visible escapes', async () => {
    const dir = tmpDir()
    const log = hostileLog(dir)
    const r = await runCli(['stats', log, '--no-progress'])
    expect(r.code).toBe(0)
    expect(r.stdout).not.toMatch(RAW)
    expect(r.stdout).toContain('\\x1b]<n>;pwned\\x07\\x1b[<n>K')
    expect(r.stdout).toMatch(/top reasons, retry log/)
  })
})

describe('the replay lock names what holds it', () => {
  /**
   * A requeue or purge holding the lock, caught in the act: a live writer that never answers
   * seal requests keeps it waiting (lock held) until it is stopped with SIGSTOP.
   */
  for (const op of ['requeue', 'purge'] as const) {
    it(`a ${op} holding it is reported as a ${op}, not as "a replay is running"`, async () => {
      const dir = tmpDir()
      const log = path.join(dir, 'orders.log')
      const writer = await Logger.open(log, { sealPollInterval: 0 })
      try {
        await writer.log({ n: 0 }, 'pending')
        await writer.logPermanent({ n: 1 }, 'gone for good')
        await writer.flush()
        const p = logPaths(log)
        const args = op === 'requeue' ? ['requeue', log, '--json'] : ['purge', log, '--permanent', '--yes', '--json']
        const { child, done } = startCli(args)
        let exitedEarly = false
        void done.then(() => (exitedEarly = true))
        await until(() => fs.existsSync(p.sealRequest), `the ${op} to wait for the seal`, () => exitedEarly)
        child.kill('SIGSTOP')
        try {
          const holder = JSON.parse(fs.readFileSync(p.replayLock, 'utf8')) as { pid: number; operation?: string }
          expect(holder).toMatchObject({ pid: child.pid, operation: op })
          fs.writeFileSync(path.join(dir, 'noop.mjs'), 'export default async () => {}\n')
          const r = await runCli(['replay', log, '--handler', 'noop.mjs', '--json'], { cwd: dir })
          expect(r.code).toBe(2)
          expect(r.stderr).toBe(`dletter: a ${op} of this log is already running (pid ${child.pid}, lock ${p.replayLock}); try again when it has finished\n`)
          const stats = await runCli(['stats', log, '--json'])
          expect(JSON.parse(stats.stdout).backend.replay).toEqual({ running: true, pid: child.pid, operation: op })
          const human = await runCli(['stats', log])
          expect(human.stdout).toContain(`replay: not running (a ${op} holds the replay lock, pid ${child.pid})`)
        } finally {
          child.kill('SIGCONT')
        }
        expect((await done).code).toBe(0)
      } finally {
        await writer.close()
      }
    })
  }
})
