/** The CLI's own surface: --version, --help texts, and usage errors (exit 1). */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot, runCli } from './fixtures/cli-util.js'

const COMMANDS = ['replay', 'stats', 'inspect', 'requeue', 'purge']

describe('dletter --version / --help', () => {
  it('--version prints the package.json version and exits 0', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    const r = await runCli(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(pkg.version)
  })

  it('--help lists every command, the exit codes and examples', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    // LOG is optional since --db (the central store) can stand in for it.
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^\\s+${c} \\[options\\] \\[log\\]`, 'm'))
    expect(r.stdout).toMatch(/^\s+ship \[options\] <log>/m)
    expect(r.stdout).toContain('Exit codes:')
    for (const code of ['0', '1', '2', '3']) expect(r.stdout).toMatch(new RegExp(`^\\s+${code}\\s+\\S`, 'm'))
    expect(r.stdout).toContain('DLETTER_PROGRESS_INTERVAL')
  })

  it('every command has --help with its flags, examples and exit codes', async () => {
    const flags: Record<string, string[]> = {
      replay: ['--handler', '--max-attempts', '--initial-wait', '--max-wait', '--retries', '--concurrency', '--ttl', '--limit', '--dry-run', '--json'],
      stats: ['--json', '--top'],
      inspect: ['--permanent', '--corrupt', '--reason', '--id', '--since', '--older-than', '--limit', '--json', '--human'],
      requeue: ['--reset-attempts', '--dry-run', '--reason', '--id', '--since', '--limit', '--json'],
      purge: ['--permanent', '--corrupt', '--older-than', '--yes', '--dry-run', '--json'],
    }
    const results = await Promise.all(COMMANDS.map((c) => runCli([c, '--help'])))
    COMMANDS.forEach((c, i) => {
      const r = results[i]
      expect(r.code, c).toBe(0)
      expect(r.stdout, c).toContain(`Usage: dletter ${c}`)
      expect(r.stdout, c).toContain('Examples:')
      expect(r.stdout, c).toContain(`$ dletter ${c} `)
      expect(r.stdout, c).toContain('Exit codes:')
      for (const f of flags[c]) expect(r.stdout, `${c} ${f}`).toContain(f)
    })
  })
})

describe('usage errors exit 1 with one clear line', () => {
  it('no command prints the usage on stderr', async () => {
    const r = await runCli([])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Usage: dletter')
    expect(r.stdout).toBe('')
  })

  it('unknown command, unknown flag, missing argument, bad number', async () => {
    const [cmd, flag, arg, num] = await Promise.all([
      runCli(['replya', 'x.log']),
      runCli(['stats', 'x.log', '--jsn']),
      runCli(['stats']),
      runCli(['inspect', 'x.log', '--limit', 'ten']),
    ])
    expect(cmd.code).toBe(1)
    expect(cmd.stderr).toMatch(/unknown command 'replya'/)
    expect(cmd.stderr).toMatch(/Did you mean replay\?/)
    expect(flag.code).toBe(1)
    expect(flag.stderr).toMatch(/unknown option '--jsn'/)
    expect(arg.code).toBe(1)
    expect(arg.stderr).toMatch(/missing required argument 'log'/)
    expect(num.code).toBe(1)
    expect(num.stderr).toMatch(/--limit <n>.*'ten' is invalid.*integer >= 1/)
    for (const r of [cmd, flag, arg, num]) {
      expect(r.stdout).toBe('')
      expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    }
  })

  it('bad duration strings are rejected with the same parser as the library', async () => {
    const [unit, text] = await Promise.all([
      runCli(['replay', 'x.log', '--handler', 'h.mjs', '--initial-wait', '5x']),
      runCli(['inspect', 'x.log', '--since', 'yesterday']),
    ])
    expect(unit.code).toBe(1)
    expect(unit.stderr).toContain('invalid duration unit "x" in "5x"')
    expect(text.code).toBe(1)
    expect(text.stderr).toMatch(/--since <when>.*'yesterday' is invalid/)
  })
})
