/**
 * Issue 9 §1: a writer verifies after every batch that the active path still leads to its file
 * and that its lock file is still there, so it never acknowledges a record into a file that
 * is no longer its own. A batch that met a renamed, removed or replaced active file is written
 * again into a fresh active file before log() resolves; a deleted lock is re-created; a lock
 * another live logger holds now makes log() reject with DLQ_LOCK_LOST and emits 'error'.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Logger } from '../src/index.js'
import { logPaths } from '../src/store/segments.js'
import { tmpDir } from './helpers/tmp.js'

const open: Logger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close()
})

async function openLog(file: string, opts: object = {}): Promise<Logger> {
  const dlq = await Logger.open(file, { sealPollInterval: 0, ...opts })
  open.push(dlq)
  return dlq
}

const idsIn = (file: string): string[] =>
  fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id)
    : []

async function logIds(dlq: Logger, ids: string[]): Promise<void> {
  for (const id of ids) await dlq.log({ id }, 'failed', 1, { id })
}

describe.each(['kernel', 'fsync'] as const)('active file taken from a live writer (durability %s)', (durability) => {
  it('removed: the next acknowledged record is in a new active file, with a warning', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLog(log, { durability })
    const warnings: string[] = []
    dlq.on('warning', (w) => warnings.push(w.message))
    await logIds(dlq, ['a', 'b'])
    fs.unlinkSync(log)
    await logIds(dlq, ['c', 'd'])
    expect(idsIn(log)).toEqual(['c', 'd'])
    expect(warnings.join('\n')).toMatch(/renamed, removed or replaced by another process/)
  })

  it('renamed (a taker sealed it): records acknowledged after the rename are in the new active file', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await openLog(log, { durability })
    await logIds(dlq, ['a', 'b'])
    const taken = path.join(path.dirname(log), 'orders.000000000001.log')
    fs.renameSync(log, taken)
    await logIds(dlq, ['c'])
    expect(idsIn(log)).toEqual(['c'])
    // The batch that met the rename may be in both files (a duplicate), never in neither.
    expect(idsIn(taken).slice(0, 2)).toEqual(['a', 'b'])
  })

  it('replaced by another file: the writer appends to what the active path now leads to', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await openLog(log, { durability })
    await logIds(dlq, ['a'])
    fs.writeFileSync(path.join(dir, 'other'), '')
    fs.renameSync(path.join(dir, 'other'), log)
    await logIds(dlq, ['b'])
    expect(idsIn(log)).toEqual(['b'])
  })
})

describe('writer lock', () => {
  it('deleted: re-created with our token by the periodic check (every sealPollInterval), with a warning', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lock = logPaths(log).writerLock
    const dlq = await openLog(log, { sealPollInterval: 20 })
    const warnings: string[] = []
    dlq.on('warning', (w) => warnings.push(w.message))
    const token = JSON.parse(fs.readFileSync(lock, 'utf8')).token
    fs.unlinkSync(lock)
    await vi.waitFor(() => expect(fs.existsSync(lock)).toBe(true), { timeout: 10_000, interval: 10 })
    expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toMatchObject({ pid: process.pid, token })
    await vi.waitFor(() => expect(warnings.join('\n')).toMatch(/writer lock .* was removed or replaced by someone else; re-created it/), { timeout: 10_000, interval: 10 })
  })

  it('deleted while idle with seal requests off (sealPollInterval 0): still re-created, by the 1 s check', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lock = logPaths(log).writerLock
    await openLog(log, { sealPollInterval: 0 })
    fs.unlinkSync(lock)
    await vi.waitFor(() => expect(fs.existsSync(lock)).toBe(true), { timeout: 10_000, interval: 20 })
  })

  it('taken by another live logger meanwhile: an error event names the holder, log() rejects DLQ_LOCK_LOST', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lock = logPaths(log).writerLock
    // A periodic check long enough for b to win the race below: taking a lock syncs its file.
    const a = await openLog(log, { sealPollInterval: 500 })
    const errors: Error[] = []
    a.on('error', (e) => errors.push(e))
    await logIds(a, ['a1'])
    fs.unlinkSync(lock)
    // Taken before the periodic check re-created it (the documented window of one sealPollInterval).
    const b = await openLog(log)
    const theirs = fs.readFileSync(lock, 'utf8')
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 10_000, interval: 10 })
    await expect(a.log({ id: 'a2' }, 'x')).rejects.toMatchObject({ code: 'DLQ_LOCK_LOST', pid: process.pid })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'DLQ_LOCK_LOST' })
    expect(errors[0].message).toContain(`pid ${process.pid}`)
    // Every later call too; the new holder works and keeps its lock when the old one closes.
    await expect(a.logPermanent({ id: 'a3' }, 'x')).rejects.toMatchObject({ code: 'DLQ_LOCK_LOST' })
    await logIds(b, ['b1'])
    await a.close()
    expect(fs.readFileSync(lock, 'utf8')).toBe(theirs)
    expect(errors).toHaveLength(1)
  })
})
