/**
 * `dletter inspect`: which entries are listed (retry log from its checkpoints, permanent,
 * corrupt), every filter, JSON Lines vs the human format, bad input; read-only.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { encodeCheckpoint } from '../src/store/checkpoint.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, parseJsonLines, runCli, snapshot, writeLines } from './fixtures/cli-util.js'

const H = 3_600_000

interface Built {
  log: string
  retry: string[]
  permanent: string[]
  corrupt: string[]
}

function buildLog(dir: string, now: number): Built {
  const log = path.join(dir, 'orders.log')
  const seg = [
    envLine({ ts: now - 9 * H, attempt: 1, reason: 'handled already', id: 'r0', payload: { n: 0 } }),
    envLine({ ts: now - 8 * H, attempt: 2, reason: 'timeout after 3000ms', id: 'r1', payload: { n: 1, text: 'line\nbreak' } }),
    '{"broken',
    envLine({ ts: now - 7 * H, attempt: 1, reason: 'ECONNRESET', id: 'r2', payload: { n: 2 } }),
  ]
  writeLines(path.join(dir, 'orders.000000000001.log'), seg)
  fs.writeFileSync(
    path.join(dir, 'orders.000000000001.log.state'),
    encodeCheckpoint({ segment: 'orders.000000000001.log', offset: Buffer.byteLength(seg[0]) + 1, items: 1, updatedAt: now }),
  )
  const active = envLine({ ts: now - H, attempt: 1, reason: null, id: 'r3', payload: 'plain string' })
  writeLines(log, [active, '{"ts":1'], { trailingNewline: false })
  const permanent = [
    envLine({ ts: now - 30 * 24 * H, attempt: 5, reason: 'card declined', id: 'p0', final: 'exhausted', payload: { amount: 1 } }),
    envLine({ ts: now - 3 * H, attempt: 5, reason: 'timeout after 3100ms', id: 'p1', final: 'exhausted', payload: { amount: 2 } }),
    envLine({ ts: now - 2 * H, attempt: 2, reason: 'invalid order', id: 'p2', final: 'permanent', payload: { amount: 3 } }),
  ]
  writeLines(path.join(dir, 'permanent-orders.000000000001.log'), permanent.slice(0, 2))
  writeLines(path.join(dir, 'permanent-orders.log'), permanent.slice(2))
  const corrupt = [
    JSON.stringify({ ts: now - 5 * H, segment: 'orders.000000000004.log', offset: 10, length: 5, error: 'invalid JSON: oops', rawEncoding: 'utf8', raw: '{oops', rawTruncated: false }),
    JSON.stringify({ ts: now - H, segment: 'orders.000000000005.log', offset: 0, length: 0, error: 'empty line', rawEncoding: 'utf8', raw: '', rawTruncated: false }),
  ]
  writeLines(path.join(dir, 'corrupt-orders.log'), corrupt)
  return { log, retry: [seg[1], seg[3], active], permanent, corrupt }
}

describe('dletter inspect', () => {
  it('in a pipe prints the pending retry entries as stored, oldest first, from the checkpoint on', async () => {
    const dir = tmpDir()
    const b = buildLog(dir, Date.now())
    const before = snapshot(dir)
    const r = await runCli(['inspect', b.log])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(b.retry.join('\n') + '\n')
    expect(r.stderr).toBe('dletter: warning: 1 unparseable line(s) skipped\n')
    const json = await runCli(['inspect', b.log, '--json'])
    expect(json.stdout).toBe(r.stdout)
    expect(json.stderr).toBe('') // --json: nothing but the lines
    expect(snapshot(dir)).toEqual(before)
  })

  it('filters the permanent log by reason, id, time and count', async () => {
    const dir = tmpDir()
    const now = Date.now()
    const b = buildLog(dir, now)
    const ids = async (args: string[]) => {
      const r = await runCli(['inspect', b.log, '--permanent', ...args])
      expect(r.code, r.stderr).toBe(0)
      return parseJsonLines(r.stdout).map((e) => e.id)
    }
    const iso = new Date(now - 4 * H).toISOString()
    const results = await Promise.all([
      ids([]),
      ids(['--reason', '^(card|invalid)']),
      ids(['--id', 'p2', '--id', 'p0']),
      ids(['--since', '4h']),
      ids(['--since', iso]),
      ids(['--older-than', '1d']),
      ids(['--since', '1d', '--reason', 'timeout']),
      ids(['--limit', '2']),
      ids(['--reason', 'nothing matches this']),
    ])
    expect(results).toEqual([['p0', 'p1', 'p2'], ['p0', 'p2'], ['p0', 'p2'], ['p1', 'p2'], ['p1', 'p2'], ['p0'], ['p1'], ['p0', 'p1'], []])
    const all = await runCli(['inspect', b.log, '--permanent'])
    expect(all.stdout).toBe(b.permanent.join('\n') + '\n')
  })

  it('--human prints one readable line per entry and a footer', async () => {
    const dir = tmpDir()
    const b = buildLog(dir, Date.now())
    const r = await runCli(['inspect', b.log, '--permanent', '--human', '--limit', '2'])
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n').filter(Boolean)
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z {2}#5 +exhausted +p0 +card declined +\{"amount":1\}$/)
    expect(lines[1]).toMatch(/ #5 +exhausted +p1 +timeout after 3100ms +\{"amount":2\}$/)
    expect(lines[2]).toBe('-- 2 entries of the permanent log; stopped at --limit 2')
    const retry = await runCli(['inspect', b.log, '--human'])
    const rl = retry.stdout.split('\n').filter(Boolean)
    expect(rl[0]).toMatch(/ #2 +r1 +timeout after 3000ms +\{"n":1,"text":"line\\nbreak"\}$/) // one line per entry
    expect(rl[2]).toMatch(/ #1 +r3 +\(no reason\) +"plain string"$/)
    expect(rl[3]).toBe('-- 3 entries of the retry log (pending items); 1 unparseable line(s) skipped')
  })

  it('--corrupt lists quarantine records; --reason matches their error', async () => {
    const dir = tmpDir()
    const b = buildLog(dir, Date.now())
    const [all, empty, human] = await Promise.all([
      runCli(['inspect', b.log, '--corrupt']),
      runCli(['inspect', b.log, '--corrupt', '--reason', '^empty']),
      runCli(['inspect', b.log, '--corrupt', '--human']),
    ])
    expect(all.stdout).toBe(b.corrupt.join('\n') + '\n')
    expect(empty.stdout).toBe(b.corrupt[1] + '\n')
    expect(human.stdout.split('\n')[0]).toMatch(/Z {2}orders\.000000000004\.log@10 {2}invalid JSON: oops {2}\{oops$/)
  })

  it('rejects bad input with exit 1', async () => {
    const dir = tmpDir()
    const b = buildLog(dir, Date.now())
    const [idCorrupt, regex, both, humanJson] = await Promise.all([
      runCli(['inspect', b.log, '--corrupt', '--id', 'x']),
      runCli(['inspect', b.log, '--reason', '(unclosed']),
      runCli(['inspect', b.log, '--permanent', '--corrupt']),
      runCli(['inspect', b.log, '--human', '--json']),
    ])
    expect(idCorrupt.code).toBe(1)
    expect(idCorrupt.stderr).toMatch(/^dletter: --id does not apply to the corrupt log/)
    expect(regex.code).toBe(1)
    expect(regex.stderr).toMatch(/--reason <regex>.*'\(unclosed' is invalid.*not a valid regular expression/)
    expect(both.code).toBe(1)
    expect(both.stderr).toMatch(/option '--permanent' cannot be used with option '--corrupt'/)
    expect(humanJson.code).toBe(1)
    expect(humanJson.stderr).toMatch(/cannot be used with option '--json'/)
  })
})
