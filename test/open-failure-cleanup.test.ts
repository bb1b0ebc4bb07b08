/**
 * Issue 17 §4: a Logger.open that fails after it has taken the writer lock and opened files
 * (here: the process runs out of descriptors, EMFILE, at every step of open in turn) gives
 * everything back — the lock, every descriptor, every background job — so the next open in the
 * same process works instead of failing with DLQ_LOCKED until a restart.
 */
import path from 'node:path'
import { expect, it } from 'vitest'
import { exited, forkFaultWithFdLimit, resultOf } from './fault/helpers/fork.js'
import { killAfterTest } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

interface Result {
  attempts: Array<{ free: number; outcome: string; systemCode?: string; deadLetter?: boolean; lockLeft?: boolean }>
  final: string
  fdsBefore: number
  fdsAfter: number
}

it.skipIf(process.platform !== 'linux')('an open failing with EMFILE at any step leaves no lock and no descriptor behind; the next open works', async () => {
  const logPath = path.join(tmpDir(), 'q.log')
  const child = killAfterTest(forkFaultWithFdLimit('open-emfile.ts', [logPath], 256))
  const r = await resultOf<Result>(child, 90_000)
  await exited(child)
  const failures = r.attempts.filter((a) => a.outcome !== 'opened')
  const text = JSON.stringify(r.attempts)
  // Open needs several descriptors: it failed at several steps before it had enough…
  expect(failures.length, text).toBeGreaterThanOrEqual(2)
  expect(r.attempts.at(-1)?.outcome, text).toBe('opened')
  for (const f of failures) {
    // …each time with a DeadLetterError saying why (a retry after a left-behind lock said DLQ_LOCKED),
    expect(f, text).toMatchObject({ deadLetter: true, outcome: 'DLQ_IO', systemCode: 'EMFILE' })
    // and without keeping the lock.
    expect(f.lockLeft, text).toBe(false)
  }
  expect(r.final).toBe('opened')
  expect(r.fdsAfter, 'descriptors open afterwards vs before the first attempt').toBe(r.fdsBefore)
}, 120_000)
