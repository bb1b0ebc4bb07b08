/**
 * Issue 17 §6: contention while the writer re-establishes its lock (its active file was taken,
 * its lock file names a dead process, and a live process holds the lock's reclaim mutex past
 * the wait) must not reach log() as DLQ_LOCKED, which means "another process writes this log"
 * at open. The writer cannot show that the log is still its own, so it stops as when the lock
 * is taken over: that call and every later one reject with DLQ_LOCK_LOST, nothing is
 * acknowledged into a file it may no longer own.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { type DeadLetterError, Logger } from '../src/index.js'
import { exited, killAfterTest } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

it('a reclaim that stays contended ends in DLQ_LOCK_LOST for log(), never DLQ_LOCKED', async () => {
  const dir = tmpDir()
  const dlq = await Logger.open(path.join(dir, 'q.log'), { sealPollInterval: 0 })
  try {
    await dlq.log({ n: 1 }, 'x')
    // A process that is gone (its lock is stale) and one that lives (it holds the reclaim mutex).
    const gone = spawn(process.execPath, ['-e', ''])
    await exited(gone)
    const alive = killAfterTest(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' }))
    const host = os.hostname()
    fs.writeFileSync(dlq.paths.writerLock, JSON.stringify({ pid: gone.pid, host, token: 'gone', since: 0, kind: 'writer' }) + '\n')
    fs.writeFileSync(`${dlq.paths.writerLock}.reclaim`, JSON.stringify({ pid: alive.pid, host }) + '\n')
    // Another process took the active file, as a sealer that judged the log orphaned would.
    fs.renameSync(dlq.path, path.join(dir, 'taken.log'))
    const err = (await dlq.log({ n: 2 }, 'x').then(
      () => undefined,
      (e: unknown) => e,
    )) as DeadLetterError | undefined
    expect(err?.code, err?.message).toBe('DLQ_LOCK_LOST')
    expect(err?.message).toMatch(/reclaim mutex/)
    await expect(dlq.log({ n: 3 }, 'x')).rejects.toMatchObject({ code: 'DLQ_LOCK_LOST' })
    // Nothing was written where the writer could no longer vouch for the file.
    expect(fs.existsSync(dlq.path) ? fs.readFileSync(dlq.path, 'utf8') : '').not.toContain('"n":2')
  } finally {
    await dlq.close()
  }
}, 60_000)
