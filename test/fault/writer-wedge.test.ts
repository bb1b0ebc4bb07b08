/**
 * Issue 17 §1: an interval rotation that cannot work (here: the log directory and the active
 * file read-only for the unprivileged user running the writer, so neither a rename nor a
 * reopen succeeds) must never wedge the writer. Every log() call settles — resolved, or
 * rejected with a DeadLetterError — and once the cause is gone, log() works again; nothing
 * acknowledged is lost. (With rotating-file-stream's interval rotation, the stalled rotation's
 * restart never settled: that log() and every later one hung for good.)
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseEnvelope } from '../../src/format/envelope.js'
import { NOBODY, exited, forkFault, resultOf } from './helpers/fork.js'
import { killAfterTest } from '../helpers/child.js'

interface Result {
  outcomes: Array<{ phase: string; outcome: string }>
  acked: number[]
  warnings: string[]
  closed: string
}

/** Payload `n` of every record in the log's files (sealed segments and active file). */
function loggedNumbers(dir: string): number[] {
  const out: number[] = []
  for (const f of fs.readdirSync(dir)) {
    if (!/^q(\.\d{12})?\.log$/.test(f)) continue
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (line !== '') out.push((parseEnvelope(line).payload as { n: number }).n)
    }
  }
  return out
}

describe.skipIf(process.getuid?.() !== 0)('an interval rotation that cannot rename nor reopen', () => {
  it('never leaves a log() call unsettled; log() works again once the directory is writable', async () => {
    // Not tmpDir(): the directory must belong to the unprivileged user, and is chmod'ed back before removal.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-fault-wedge-'))
    try {
      fs.chownSync(dir, NOBODY, NOBODY)
      const child = killAfterTest(forkFault('interval-wedge.ts', [path.join(dir, 'q.log')], {}, NOBODY))
      const res = await resultOf<Result>(child, 120_000)
      await exited(child)
      const summary = JSON.stringify({ outcomes: res.outcomes.filter((o) => o.outcome !== 'resolved'), warnings: res.warnings })
      expect(res.outcomes.filter((o) => o.outcome === 'hung'), summary).toEqual([])
      for (const o of res.outcomes) expect(o.outcome, summary).toMatch(/^(resolved|DLQ_[A-Z_]+)$/)
      // The writer met a boundary it could not rotate at, and said so.
      expect(res.warnings.some((w) => /interval rotation .* failed/.test(w)), summary).toBe(true)
      // Healed: log() resolves again, close() too.
      expect(res.outcomes.filter((o) => o.phase === 'healed').map((o) => o.outcome)).toEqual(['resolved', 'resolved'])
      expect(res.closed).toBe('resolved')
      // Every acknowledged record is in the log, once.
      const logged = loggedNumbers(dir)
      for (const n of res.acked) expect(logged.filter((x) => x === n), `record ${n}`).toHaveLength(1)
    } finally {
      fs.chmodSync(dir, 0o700)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 150_000)
})
