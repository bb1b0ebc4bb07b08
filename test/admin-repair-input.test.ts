/**
 * Repair before redrive with bad input: a transform module that is missing, throws while
 * loading or exports no function is refused (DLQ_TRANSFORM) before anything changes; a
 * transform without `why` is refused (DLQ_INVALID_OPTION); an entry whose transform throws,
 * returns what JSON cannot hold (BigInt, a cycle, a Promise) or a record over maxRecordSize
 * stays in the permanent log, counted with the reason; an audit log that cannot be written
 * moves nothing (DLQ_IO).
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeadLetterError, type Envelope, Logger, requeue } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { familyLines, snapshot } from './fixtures/cli-util.js'

async function buildLog(): Promise<{ dir: string; log: string }> {
  const dir = tmpDir()
  const log = path.join(dir, 'orders.log')
  const dlq = await Logger.open(log)
  for (const kind of ['ok', 'throws', 'bigint', 'cycle', 'promise', 'huge', 'skip']) await dlq.logPermanent({ kind }, new Error('bad data'), { id: kind })
  await dlq.close()
  return { dir, log }
}

const ids = (lines: string[]) => lines.map((l) => (JSON.parse(l) as Envelope).id).sort()

describe('requeue() with a transform: bad input', () => {
  it('refuses a module that is missing, throws while loading or exports no function, and changes nothing', async () => {
    const { dir, log } = await buildLog()
    fs.writeFileSync(path.join(dir, 'throws.mjs'), "throw new Error('boom at import')\n")
    fs.writeFileSync(path.join(dir, 'nofn.mjs'), 'export const x = 1\n')
    const before = snapshot(dir)
    for (const [file, text] of [
      ['missing.mjs', /does not exist/],
      ['throws.mjs', /threw while loading: boom at import/],
      ['nofn.mjs', /exports no function/],
    ] as const) {
      const err = await requeue(log, { transform: path.join(dir, file), why: 'fix' }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(DeadLetterError)
      expect([file, (err as DeadLetterError).code]).toEqual([file, 'DLQ_TRANSFORM'])
      expect((err as Error).message).toMatch(text)
      // The dry run loads it the same way.
      await expect(requeue(log, { transform: path.join(dir, file), why: 'fix', dryRun: true })).rejects.toMatchObject({ code: 'DLQ_TRANSFORM' })
    }
    expect(snapshot(dir)).toEqual(before)
  })

  it('needs `why` with a transform', async () => {
    const { log } = await buildLog()
    await expect(requeue(log, { transform: (p) => p })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringMatching(/needs `why`/) })
  })

  it('keeps each entry the transform fails on, counted with the reason; moves the rest', async () => {
    const { log } = await buildLog()
    const transform = (p: unknown) => {
      const { kind } = p as { kind: string }
      if (kind === 'throws') throw new Error('cannot fix this one')
      if (kind === 'bigint') return { n: 10n }
      if (kind === 'cycle') {
        const o: Record<string, unknown> = {}
        o.self = o
        return o
      }
      if (kind === 'promise') return Promise.resolve({})
      if (kind === 'huge') return { big: 'x'.repeat(2000) }
      if (kind === 'skip') return undefined
      return { kind, fixed: true }
    }
    const r = await requeue(log, { transform, why: 'test', maxRecordSize: 1024 })
    expect(r.count).toBe(1)
    expect(r.transform).toMatchObject({ changed: 1, untouched: 1, failed: 5 })
    const reasons = r.transform!.failures.map((f) => f.reason).join('\n')
    expect(reasons).toMatch(/the transform threw: cannot fix this one/)
    expect(reasons).toMatch(/cannot be stored as JSON: .*BigInt/)
    expect(reasons).toMatch(/cannot be stored as JSON: .*circular/i)
    expect(reasons).toMatch(/returned a Promise/)
    expect(reasons).toMatch(/over maxRecordSize/)
    expect(ids(familyLines(log, 'retry'))).toEqual(['ok'])
    expect(ids(familyLines(log, 'permanent'))).toEqual(['bigint', 'cycle', 'huge', 'promise', 'skip', 'throws'])
    expect(fs.readFileSync(`${log}.audit.jsonl`, 'utf8').trim().split('\n')).toHaveLength(1)
  })

  it('moves nothing when the audit log cannot be written (DLQ_IO)', async () => {
    const { dir, log } = await buildLog()
    // A directory where the audit log would go: no process, root included, can append to it.
    fs.mkdirSync(`${log}.audit.jsonl`)
    const permanent = familyLines(log, 'permanent')
    for (const options of [{ transform: (p: unknown) => ({ ...(p as object), fixed: true }), why: 'fix' }, {}]) {
      await expect(requeue(log, options)).rejects.toMatchObject({ code: 'DLQ_IO' })
      expect(familyLines(log, 'permanent')).toEqual(permanent)
      expect(familyLines(log, 'retry')).toEqual([])
    }
    expect(fs.readdirSync(dir).filter((n) => n.includes('rewrite'))).toEqual([])
  })

  it('rolls the segment back when the audit log fails after the run began (DLQ_IO), leaving no journal or temp file', async () => {
    const { dir, log } = await buildLog()
    const audit = `${log}.audit.jsonl`
    const permanent = familyLines(log, 'permanent')
    let broken = false
    const transform = (p: unknown) => {
      // The audit log was opened before the rewrite; it stops being writable mid-run.
      if (!broken) {
        fs.rmSync(audit)
        fs.mkdirSync(audit)
        broken = true
      }
      return { ...(p as object), fixed: true }
    }
    await expect(requeue(log, { transform, why: 'fix' })).rejects.toMatchObject({ code: 'DLQ_IO' })
    expect(familyLines(log, 'permanent')).toEqual(permanent)
    expect(familyLines(log, 'retry')).toEqual([])
    expect(fs.readdirSync(dir).filter((n) => n.includes('rewrite'))).toEqual([])
  })
})
