/**
 * Issue 9 §6: a size rotation that keeps failing (here: the log directory is read-only for the
 * unprivileged user running the writer) is retried after every write, but warned about a
 * bounded number of times — the first failure, then at most one a minute, and a summary with
 * the count of suppressed ones — not once per log() call.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { NOBODY, exited, forkFault, resultOf } from './helpers/fork.js'

describe.skipIf(process.getuid?.() !== 0)('a size rotation that keeps failing', () => {
  it('200 log() calls: a few warnings, one of them counting the suppressed ones; every record still written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-fault-rotwarn-'))
    try {
      fs.chownSync(dir, NOBODY, NOBODY)
      const child = forkFault('rotation-stuck.ts', [path.join(dir, 'q.log')], {}, NOBODY)
      const res = await resultOf<{ warnings: string[]; failed: number; size: number }>(child, 60_000)
      await exited(child)
      expect(res.failed).toBe(0)
      const rotation = res.warnings.filter((w) => /size rotation/.test(w))
      expect(rotation.length, rotation.join('\n')).toBeGreaterThanOrEqual(1)
      expect(rotation.length, rotation.join('\n')).toBeLessThanOrEqual(5)
      const counted = rotation.map((w) => /\((\d+) more like it suppressed\)/.exec(w)).filter((m) => m !== null)
      expect(counted.length, rotation.join('\n')).toBeGreaterThanOrEqual(1)
      // Every failed attempt after the first is either reported or counted.
      expect(rotation.length + counted.reduce((n, m) => n + Number(m![1]), 0)).toBeGreaterThanOrEqual(150)
      // All 200 records are still in the (unrotated) active file.
      expect(res.size).toBeGreaterThan(200 * 100)
    } finally {
      fs.chmodSync(dir, 0o700)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
