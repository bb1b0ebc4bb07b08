/**
 * Issue 17 (smaller): every spelling of a loopback address is loopback — `127.1` (as the
 * system resolver reads it: 127.0.0.1), other 127/8 addresses, `::1` with or without brackets,
 * `localhost` — so `dletter serve --host` accepts them without a token and answers over real
 * HTTP there. What reaches other machines still needs a token.
 */
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { buildLog, get, serve } from './helpers.js'
import { runCli } from '../fixtures/cli-util.js'

describe('loopback spellings', () => {
  for (const host of ['127.1', '127.0.0.2', '0x7f.1', '::1', '[::1]', 'localhost']) {
    it(`--host ${host}: served without a token, over HTTP`, async () => {
      const a = buildLog(tmpDir())
      const s = await serve({ logs: [a.log], host })
      const r = await get(s, '/api/overview')
      expect(r.status, r.text).toBe(200)
      expect(r.json().sources[0].counts.permanent).toBe(6)
    })
  }

  it('without a token the CLI still refuses 0.0.0.0, and 127.0.0.1. (a DNS name)', async () => {
    const a = buildLog(tmpDir())
    for (const host of ['0.0.0.0', '127.0.0.1.']) {
      const r = await runCli(['serve', a.log, '--host', host, '--port', '0'])
      expect(r.code, host).toBe(1)
      expect(r.stderr, host).toMatch(/is reachable from other machines/)
    }
  })
})
