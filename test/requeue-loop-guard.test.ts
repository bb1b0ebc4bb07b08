/**
 * requeue's loop guard on a local log: every requeue counts one redrive on the entry; an
 * entry already requeued `maxRedrives` times (default 3) stays in the permanent log, counted
 * in `heldBack`, unless forced — so a nightly `requeue --reset-attempts` cannot bounce the
 * same entries between the logs forever.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeadLetterError, requeue } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { familyLines, runCli, writeLines } from './fixtures/cli-util.js'

/** A permanent segment with one entry per redrive count (`r0` … `r3`). */
function permanentLog(): string {
  const dir = tmpDir()
  const log = path.join(dir, 'orders.log')
  const lines = [0, 1, 2, 3].map((n) =>
    JSON.stringify({ ts: 1000 + n, attempt: 5, reason: 'card declined', id: `r${n}`, final: 'exhausted', ...(n > 0 ? { redrives: n } : {}), payload: { n } }),
  )
  writeLines(path.join(dir, 'permanent-orders.000000000001.log'), lines)
  return log
}

const ids = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { id: string }).id).sort()
const redrivesOf = (lines: string[]) => Object.fromEntries(lines.map((l) => JSON.parse(l) as { id: string; redrives?: number }).map((e) => [e.id, e.redrives ?? 0]))

describe('requeue loop guard (local)', () => {
  it('holds back an entry at maxRedrives (default 3), counts one more redrive on each moved entry, and force moves it', async () => {
    const log = permanentLog()
    const dry = await requeue(log, { dryRun: true })
    expect(dry).toMatchObject({ count: 3, heldBack: 1, maxRedrives: 3 })
    const r = await requeue(log, { resetAttempts: true })
    expect(r).toMatchObject({ count: 3, heldBack: 1, maxRedrives: 3, backend: { kept: 1 } })
    expect(ids(familyLines(log, 'permanent'))).toEqual(['r3'])
    expect(redrivesOf(familyLines(log, 'retry'))).toEqual({ r0: 1, r1: 2, r2: 3 })
    const forced = await requeue(log, { force: true })
    expect(forced).toMatchObject({ count: 1, heldBack: 0, maxRedrives: null })
    expect(familyLines(log, 'permanent')).toEqual([])
    expect(redrivesOf(familyLines(log, 'retry'))).toEqual({ r0: 1, r1: 2, r2: 3, r3: 4 })
  })

  it('takes maxRedrives as an option (0: nothing moves without force) and rejects a bad one', async () => {
    const log = permanentLog()
    expect(await requeue(log, { maxRedrives: 2 })).toMatchObject({ count: 2, heldBack: 2 })
    expect(ids(familyLines(log, 'permanent'))).toEqual(['r2', 'r3'])
    expect(await requeue(log, { maxRedrives: 0, dryRun: true })).toMatchObject({ count: 0, heldBack: 2 })
    await expect(requeue(log, { maxRedrives: -1 })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    await expect(requeue(log, { force: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(DeadLetterError)
  })

  it('dletter requeue --max-redrives / --force: the summary says how many were held back and why', async () => {
    const log = permanentLog()
    const json = await runCli(['requeue', log, '--max-redrives', '2', '--json'])
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ count: 2, heldBack: 2, maxRedrives: 2 })
    const human = await runCli(['requeue', log, '--max-redrives', '2'])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain('2 entries held back: already requeued 2 times, the maxRedrives limit (force moves them)')
    const forced = await runCli(['requeue', log, '--force', '--json'])
    expect(JSON.parse(forced.stdout)).toMatchObject({ count: 2, heldBack: 0 })
    expect(familyLines(log, 'permanent')).toEqual([])
  })
})
