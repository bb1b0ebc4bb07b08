/**
 * `dletter stats`: every figure checked against a log built line by line (sealed, .gz,
 * replayer-owned and active segments, a checkpoint, a partial last line, permanent and
 * corrupt logs), and strictly read-only.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { encodeCheckpoint } from '../src/store/checkpoint.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, runCli, snapshot, writeLines } from './fixtures/cli-util.js'

const H = 3_600_000

/** Returns the log path; `now` is the reference time the entries are relative to. */
function buildLog(dir: string, now: number): string {
  const log = path.join(dir, 'orders.log')
  const seg1 = [
    envLine({ ts: now - 6 * H, attempt: 1, reason: 'already handled (before the checkpoint)', payload: { n: 0 } }),
    envLine({ ts: now - 4 * H, attempt: 2, reason: 'timeout after 3012ms', id: 'a1', firstTs: now - 10 * H, dueTs: now + H, payload: { n: 1 } }),
    envLine({ ts: now - 5 * H, attempt: 1, reason: 'timeout after 2981ms', id: 'a2', payload: { n: 2 } }),
    'not json at all',
    envLine({ ts: now - 3 * H, attempt: 3, reason: 'order 5f2a9c1e-1234-4abc-8def-0123456789ab not found', dueTs: now - 60_000, payload: { n: 3 } }),
  ]
  writeLines(path.join(dir, 'orders.000000000001.log'), seg1)
  const offset = Buffer.byteLength(seg1[0]) + 1
  fs.writeFileSync(
    path.join(dir, 'orders.000000000001.log.state'),
    encodeCheckpoint({ segment: 'orders.000000000001.log', offset, items: 1, updatedAt: now }),
  )
  fs.writeFileSync(
    path.join(dir, 'orders.000000000002.log.gz'),
    zlib.gzipSync(envLine({ ts: now - 6 * H, attempt: 1, reason: 'gz item', payload: { n: 4 } }) + '\n'),
  )
  writeLines(path.join(dir, 'orders.r000000000001.log'), [
    envLine({ ts: now - 2 * H, attempt: 2, reason: 'order 0f2a9c1e-1234-4abc-8def-0123456789ab not found', id: 'b0', payload: { n: 5 } }),
    envLine({ ts: now - H, attempt: 1, reason: 'rate limited by 10.0.0.1 (key deadbeef1234)', payload: { n: 6 } }),
  ])
  // The active file, mid-append: its last record has no newline yet.
  writeLines(path.join(dir, 'orders.log'), [envLine({ ts: now - H / 2, attempt: 1, reason: null, payload: { n: 7 } }), '{"ts":17'], {
    trailingNewline: false,
  })
  writeLines(path.join(dir, 'permanent-orders.000000000001.log'), [
    envLine({ ts: now - 9 * H, attempt: 5, reason: 'timeout after 3100ms', final: 'exhausted', payload: 1 }),
    envLine({ ts: now - 8 * H, attempt: 5, reason: 'timeout after 3200ms', final: 'exhausted', payload: 2 }),
    envLine({ ts: now - 7 * H, attempt: 2, reason: 'card declined', final: 'permanent', payload: 3 }),
  ])
  writeLines(path.join(dir, 'permanent-orders.log'), [envLine({ ts: now - H, attempt: 1, reason: 'manual', final: 'manual', payload: 4 })])
  writeLines(path.join(dir, 'corrupt-orders.log'), [
    JSON.stringify({ ts: now, segment: 'orders.000000000009.log', offset: 0, length: 3, error: 'invalid JSON', rawEncoding: 'utf8', raw: 'xyz', rawTruncated: false }),
    JSON.stringify({ ts: now, segment: 'orders.000000000009.log', offset: 4, length: 0, error: 'empty line', rawEncoding: 'utf8', raw: '', rawTruncated: false }),
  ])
  fs.writeFileSync(path.join(dir, 'corrupt-orders.000000000009.log.gz'), 'not gzip')
  // A live writer (this test process) holds the writer lock.
  fs.writeFileSync(
    path.join(dir, '.orders.log.lock'),
    JSON.stringify({ pid: process.pid, host: os.hostname(), token: 't', since: now, kind: 'writer' }) + '\n',
  )
  return log
}

describe('dletter stats', () => {
  it('--json reports every figure, reasons normalized and grouped, without changing a byte', async () => {
    const dir = tmpDir()
    const now = Date.now()
    const log = buildLog(dir, now)
    const before = snapshot(dir)
    const r = await runCli(['stats', log, '--json'])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1)
    const s = JSON.parse(r.stdout)
    expect(snapshot(dir)).toEqual(before)

    expect(s.backend.writer).toEqual({ running: true, pid: process.pid })
    expect(s.backend.replay).toEqual({ running: false, pid: null, operation: null })
    expect(s.retry).toMatchObject({
      count: 7,
      due: 6,
      deferred: 1,
      nextDueTs: now + H,
      attempts: { '1': 4, '2': 2, '3': 1 },
      oldestTs: now - 10 * H,
      newestTs: now - H / 2,
    })
    expect(s.backend.retry).toMatchObject({ sealedSegments: 3, checkpointed: 1, unparseable: 1, partialTail: true })
    expect(s.backend.retry.activeBytes).toBe(fs.statSync(log).size)
    expect(s.retry.reasons.map((g: { fingerprint: string; count: number }) => [g.fingerprint, g.count])).toEqual([
      ['timeout after <n>ms', 2],
      ['order <uuid> not found', 2],
      ['gz item', 1],
      ['rate limited by <ip> (key <hex>)', 1],
      ['(no reason)', 1],
    ])
    expect(s.retry.reasons[0]).toMatchObject({ oldestTs: now - 5 * H, newestTs: now - 4 * H, example: 'timeout after 2981ms' }) // the oldest entry's reason, as the central store picks it
    expect(s.permanent).toMatchObject({
      count: 4,
      byFinal: { exhausted: 2, permanent: 1, manual: 1 },
      oldestTs: now - 9 * H,
      newestTs: now - H,
    })
    expect(s.backend.permanent).toMatchObject({ sealedSegments: 1, unparseable: 0 })
    expect(s.permanent.reasons[0]).toMatchObject({ fingerprint: 'timeout after <n>ms', count: 2 })
    expect(s.corrupt.count).toBe(2)
    expect(s.backend.corrupt).toEqual({ bytes: fs.statSync(path.join(dir, 'corrupt-orders.log')).size, filesSetAside: 1 })

    const top1 = JSON.parse((await runCli(['stats', log, '--json', '--top', '1'])).stdout)
    expect(top1.retry.reasons).toHaveLength(1)
    expect(snapshot(dir)).toEqual(before)
  })

  it('prints a readable report, with progress lines on stderr when asked', async () => {
    const dir = tmpDir()
    const log = buildLog(dir, Date.now())
    const r = await runCli(['stats', log], { env: { DLETTER_PROGRESS_INTERVAL: '0' } })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`writer: running (pid ${process.pid}); replay: not running`)
    expect(r.stdout).toMatch(/^\s+pending\s+7 item\(s\): 6 due now, 1 deferred \(next due in \d+m/m)
    expect(r.stdout).toMatch(/^\s+attempt 1\s+4\s+#+$/m)
    expect(r.stdout).toMatch(/^\s+oldest failure\s+\S+ \S+Z \(10h/m)
    expect(r.stdout).toMatch(/^\s+entries\s+4 \(exhausted 2, permanent 1, manual 1\)$/m)
    expect(r.stdout).toMatch(/^corrupt log: 2 record\(s\), .*1 unreadable compressed segment\(s\) set aside$/m)
    expect(r.stdout).toMatch(/^\s+2\s+\S+ \S+Z\s+\S+ \S+Z\s+timeout after <n>ms$/m)
    expect(r.stderr).toMatch(/^stats: \d+% /m)
  })

  it('an empty directory is an empty log (with a hint), a missing one a usage error', async () => {
    const dir = tmpDir()
    fs.writeFileSync(path.join(dir, '.payments.log.lock'), '')
    const empty = await runCli(['stats', path.join(dir, 'orders.log'), '--json'])
    expect(empty.code).toBe(0)
    expect(JSON.parse(empty.stdout).retry.count).toBe(0)
    const human = await runCli(['stats', path.join(dir, 'orders.log')])
    expect(human.stderr).toBe(`dletter: warning: no files of log orders.log in ${dir} (nothing logged yet, or a typo?); logs there: payments.log\n`)
    const missing = await runCli(['stats', path.join(dir, 'nope', 'orders.log')])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^dletter: no such directory: /)
  })
})
