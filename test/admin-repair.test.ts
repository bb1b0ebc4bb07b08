/**
 * Repair before redrive on a local log: 1,000 permanent entries with a bug in their data are
 * repaired by a transform and requeued, then replayed. Every repaired payload is delivered
 * once, the originals are gone from the permanent log, and the audit log has 1,000 records
 * whose patches turn each stored payload before into the one delivered.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import jsonpatch from 'fast-json-patch'
import { Logger, replay, requeue } from '../src/index.js'
import type { AuditRecord, Envelope } from '../src/index.js'
import { sha256 } from '../src/format/edit.js'
import { tmpDir } from './helpers/tmp.js'
import { familyLines } from './fixtures/cli-util.js'

const N = 1000

describe('requeue() with a transform', () => {
  it('repairs 1,000 entries; replay delivers each repaired payload once; the audit log holds 1,000 patches', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log, { rotateSize: 64 * 1024 })
    const originals = new Map<string, { id: string; amount: string; tags: string[] }>()
    for (let i = 0; i < N; i++) {
      const p = { id: `ord-${i}`, amount: `${i},50`, tags: i % 3 === 0 ? ['eu'] : ['eu', 'b2b'] }
      originals.set(p.id, p)
      await dlq.logPermanent(p, new Error('amount is not a number'), { id: p.id, attempt: 4 })
    }
    // One that is not this bug: the filter leaves it where it is.
    await dlq.logPermanent({ id: 'other' }, new Error('card declined'), { id: 'other' })
    await dlq.close()

    const fix = (p: unknown) => {
      const o = p as { amount: string; tags: string[] }
      return { ...o, amount: Number(o.amount.replace(',', '.')), tags: o.tags.filter((t) => t !== 'b2b'), currency: 'EUR' }
    }
    const r = await requeue(log, { reason: 'amount is not a number', transform: fix, why: 'amounts were sent as strings', actor: 'ops@test' })
    expect(r).toMatchObject({ count: N, resetAttempts: true, transform: { changed: N, untouched: 0, failed: 0 }, audit: { records: N } })
    expect(familyLines(log, 'permanent').map((l) => (JSON.parse(l) as Envelope).id)).toEqual(['other'])
    const moved = familyLines(log, 'retry').map((l) => JSON.parse(l) as Envelope)
    expect(moved).toHaveLength(N)
    for (const e of moved) {
      expect(e.attempt).toBe(1)
      expect((e as { redrives?: number }).redrives).toBe(1)
      expect(e.editOf).toMatchObject({ id: e.id, location: { ref: expect.stringMatching(/^permanent\/permanent-orders\.\d{12}\.log\/\d+$/) } })
    }

    const delivered = new Map<string, unknown[]>()
    const summary = await replay(log, (payload) => {
      const id = (payload as { id: string }).id
      delivered.set(id, [...(delivered.get(id) ?? []), payload])
    })
    expect(summary, JSON.stringify(summary)).toMatchObject({ delivered: N })
    expect(delivered.size).toBe(N)
    for (const [id, payloads] of delivered) expect([id, payloads]).toEqual([id, [fix(originals.get(id))]])
    expect(familyLines(log, 'retry')).toEqual([])

    const records = fs
      .readFileSync(`${log}.audit.jsonl`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRecord)
    expect(records).toHaveLength(N)
    expect(new Set(records.map((x) => x.id)).size).toBe(N)
    for (const rec of records) {
      const before = originals.get(rec.id!)!
      const after = delivered.get(rec.id!)![0]
      expect(rec).toMatchObject({ v: 1, op: 'requeue', actor: 'ops@test', why: 'amounts were sent as strings', filter: expect.stringContaining('amount is not a number'), transform: { name: 'fix' } })
      expect(rec.before).toBe(sha256(JSON.stringify(before)))
      expect(rec.after).toBe(sha256(JSON.stringify(after)))
      expect(jsonpatch.applyPatch(structuredClone(before), rec.patch as jsonpatch.Operation[], true, false).newDocument).toEqual(after)
      // The original's payload, rebuilt from the delivered one.
      expect(jsonpatch.applyPatch(structuredClone(after), rec.undo as jsonpatch.Operation[], true, false).newDocument).toEqual(before)
    }
  }, 60_000)
})
