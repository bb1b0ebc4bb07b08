/**
 * Issue 17 (smaller): a log whose files were all shipped or replayed away after its writer
 * was killed keeps only its stale writer lock. It is an empty log, not a typo: commands on it
 * must not warn "no files of log o.log …; logs there: o.log". A real typo still gets the hint.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { exited } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { runCli } from './fixtures/cli-util.js'

it('only the lock file of a killed writer left: no warning for the log itself; a typo still gets the hint', async () => {
  const dir = tmpDir()
  const gone = spawn(process.execPath, ['-e', ''])
  await exited(gone)
  fs.writeFileSync(path.join(dir, '.o.log.lock'), JSON.stringify({ pid: gone.pid, host: os.hostname(), token: 't', since: 0, kind: 'writer' }) + '\n')
  for (const cmd of [['stats'], ['inspect'], ['stats', '--json']]) {
    const r = await runCli([cmd[0], path.join(dir, 'o.log'), ...cmd.slice(1)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr, cmd.join(' ')).not.toMatch(/no files of log/)
  }
  const typo = await runCli(['stats', path.join(dir, 'p.log')])
  expect(typo.stderr).toBe(`dletter: warning: no files of log p.log in ${dir} (nothing logged yet, or a typo?); logs there: o.log\n`)
})
