/**
 * `dletter replay` reports what recovery of an interrupted requeue settled: the replay runs the
 * one recovery itself (no second pass in the CLI that would consume it first), and its
 * summary's `recovered` is what `--json` prints and what a terminal shows as a note.
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, familyLines, runCli, writeLines } from './fixtures/cli-util.js'

function interruptedRequeue(): string {
  const dir = tmpDir()
  const now = Date.now()
  const lines = Array.from({ length: 6 }, (_, i) => envLine({ ts: now - 1000, attempt: 5, reason: i % 2 === 0 ? `move me ${i}` : `keep me ${i}`, id: `e-${i}`, final: 'exhausted', payload: { i } }))
  writeLines(path.join(dir, 'permanent-orders.000000000001.log'), lines)
  return dir
}

it('replay --json prints `recovered` (non-null) after an interrupted requeue; the human summary notes it', { timeout: 120_000 }, async () => {
  for (const json of [true, false]) {
    const dir = interruptedRequeue()
    const log = path.join(dir, 'orders.log')
    // Killed once the moved entries are synced to the retry log, before the journal commits.
    const r = await exited(forkFixture('cli-rewrite-crash.ts', [log, 'requeue', '^move me', 'synced', '1', '0']))
    expect(r.signal).toBe('SIGKILL')
    expect(fs.existsSync(path.join(dir, '.orders.log.rewrite'))).toBe(true)
    fs.writeFileSync(path.join(dir, 'handler.mjs'), 'export default () => {}\n')

    const cli = await runCli(['replay', log, '--handler', path.join(dir, 'handler.mjs'), ...(json ? ['--json'] : ['--no-progress'])])
    expect(cli.code, cli.stderr).toBe(0)
    expect(fs.existsSync(path.join(dir, '.orders.log.rewrite'))).toBe(false)
    if (json) {
      const summary = JSON.parse(cli.stdout) as { recovered: unknown; delivered: number }
      expect(summary.recovered).toEqual(expect.stringMatching(/requeue/))
      // Recovery finished or rolled back the move: either way every entry is in exactly one place.
      expect(summary.delivered + familyLines(log, 'permanent').length).toBe(6)
    } else {
      expect(cli.stderr).toMatch(/dletter: .*requeue/)
    }
  }
})
