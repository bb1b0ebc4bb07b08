/** `dletter serve` as a process: the listening line, a free port with --port 0, clean stops, refusals. */
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { runCli, startCli } from '../fixtures/cli-util.js'
import { buildLog, listening } from './helpers.js'

describe('dletter serve (CLI)', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`prints the real port with --port 0, serves, and stops cleanly on ${signal}`, async () => {
      const a = buildLog(tmpDir())
      const cli = startCli(['serve', a.log, '--port', '0'])
      const url = await listening(cli)
      expect(url).not.toMatch(/:0$/)
      const o = (await (await fetch(url + '/api/overview')).json()) as any
      expect(o.sources[0].counts.permanent).toBe(6)
      cli.child.kill(signal)
      const r = await cli.done
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(`listening on ${url}\n`)
      expect(r.stderr).toContain('read-only')
      await expect(fetch(url + '/api/overview')).rejects.toThrow()
    })
  }

  it('refuses a non-loopback --host without --token, a short token, a busy port, a missing directory', async () => {
    const a = buildLog(tmpDir())
    const open = await runCli(['serve', a.log, '--host', '0.0.0.0', '--port', '0'])
    expect(open.code).toBe(1)
    expect(open.stderr).toMatch(/^dletter: --host "0\.0\.0\.0" is reachable from other machines: also give --token \(or bind 127\.0\.0\.1\)$/m)
    const short = await runCli(['serve', a.log, '--token', 'abc', '--port', '0'])
    expect(short.code).toBe(1)
    expect(short.stderr).toContain('--token must be at least 16 characters')
    const none = await runCli(['serve'])
    expect(none.code).toBe(1)
    expect(none.stderr).toContain('nothing to serve')
    const missing = await runCli(['serve', '/nonexistent-dir-xyz/orders.log', '--port', '0'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('no such directory')
    const badPort = await runCli(['serve', a.log, '--port', '70000'])
    expect(badPort.code).toBe(1)
    const first = startCli(['serve', a.log, '--port', '0'])
    const url = await listening(first)
    const busy = await runCli(['serve', a.log, '--port', new URL(url).port])
    expect(busy.code).toBe(3)
    expect(busy.stderr).toMatch(/port \d+ on 127\.0\.0\.1 is in use/)
    first.child.kill('SIGTERM')
    expect((await first.done).code).toBe(0)
  })

  it('takes the token from DLETTER_SERVE_TOKEN (kept off the command line)', async () => {
    const a = buildLog(tmpDir())
    const token = 'env-token-0123456789abcdef'
    const cli = startCli(['serve', a.log, '--port', '0'], { env: { DLETTER_SERVE_TOKEN: token } })
    const url = await listening(cli)
    expect((await fetch(url + '/api/overview')).status).toBe(401)
    expect((await fetch(url + '/api/overview', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    cli.child.kill('SIGTERM')
    expect((await cli.done).code).toBe(0)
  })

  it('is listed in --help', async () => {
    const r = await runCli(['--help'])
    expect(r.stdout).toMatch(/serve \[options\] \[log\.\.\.\]/)
    const h = await runCli(['serve', '--help'])
    for (const flag of ['--db <url>', '--port <n>', '--host <addr>', '--allow-writes', '--token <token>']) expect(h.stdout).toContain(flag)
  })
})
