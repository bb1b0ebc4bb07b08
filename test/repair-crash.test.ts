/**
 * Repair before redrive is crash-safe: a requeue with a transform is SIGKILLed at every step
 * of the journaled rewrite, the audit log's append included. After each kill and the
 * recovery the next operation runs, every entry is in exactly one log, and the audit log
 * holds a record for exactly the entries that moved — each with the original's location and
 * a patch that turns the original payload into the moved one — and no partial line.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import jsonpatch from 'fast-json-patch'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, familyLines, writeLines } from './fixtures/cli-util.js'
import { logPaths } from '../src/store/segments.js'
import { withMaintenance } from '../src/store/maintenance-session.js'
import { sha256 } from '../src/format/edit.js'
import type { AuditRecord } from '../src/format/edit.js'

const SEGMENTS = 4
const PER_SEGMENT = 600
const PAD = 'x'.repeat(400)

interface Original {
  payload: { s: number; i: number; amount: string; pad: string }
  location: string
}

function buildLog(dir: string): { log: string; originals: Map<string, Original> } {
  const log = path.join(dir, 'orders.log')
  const originals = new Map<string, Original>()
  const now = Date.now()
  for (let s = 1; s <= SEGMENTS; s++) {
    const out: string[] = []
    const name = `permanent-orders.${String(s).padStart(12, '0')}.log`
    let offset = 0
    for (let i = 0; i < PER_SEGMENT; i++) {
      const id = `e-${s}-${i}`
      const payload = { s, i, amount: `${i},25`, pad: PAD }
      const line = envLine({ ts: now - 1000, attempt: 5, reason: i % 2 === 0 ? 'fix me: amount' : 'keep me', id, final: 'exhausted', payload })
      originals.set(id, { payload, location: `permanent/${name}/${offset}` })
      offset += Buffer.byteLength(line) + 1
      out.push(line)
    }
    writeLines(path.join(dir, name), out, { mtime: now - (SEGMENTS - s) * 60_000 })
  }
  return { log, originals }
}

function check(log: string, originals: Map<string, Original>): { moved: number } {
  const where = new Map<string, string[]>()
  const retryPayload = new Map<string, { payload: unknown; editOf: { location: { ref: string } } }>()
  for (const [kind, lines] of [['retry', familyLines(log, 'retry')], ['permanent', familyLines(log, 'permanent')]] as const) {
    for (const l of lines) {
      const e = JSON.parse(l) as { id: string; payload: unknown; editOf: { location: { ref: string } }; attempt: number }
      where.set(e.id, [...(where.get(e.id) ?? []), kind])
      if (kind === 'retry') {
        retryPayload.set(e.id, e)
        expect(e.attempt).toBe(1)
      }
    }
  }
  // Every entry in exactly one log.
  for (const id of originals.keys()) expect([id, where.get(id)]).toEqual([id, [expect.any(String)]])
  expect(where.size).toBe(originals.size)
  // The audit log: one complete record per moved entry, none for an entry that stayed.
  const auditFile = `${log}.audit.jsonl`
  const text = fs.existsSync(auditFile) ? fs.readFileSync(auditFile, 'utf8') : ''
  expect(text === '' || text.endsWith('\n')).toBe(true)
  const records = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord)
  expect(records.map((r) => r.id).sort()).toEqual([...retryPayload.keys()].sort())
  for (const r of records) {
    const o = originals.get(r.id!)!
    const moved = retryPayload.get(r.id!)!
    expect(r.location.ref).toBe(o.location)
    expect(moved.editOf.location.ref).toBe(o.location)
    expect(r.before).toBe(sha256(JSON.stringify(o.payload)))
    expect(r.after).toBe(sha256(JSON.stringify(moved.payload)))
    expect(jsonpatch.applyPatch(structuredClone(o.payload), r.patch as jsonpatch.Operation[], true, false).newDocument).toEqual(moved.payload)
    expect(r).toMatchObject({ op: 'requeue', actor: 'tester', why: 'crash test', transform: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } })
  }
  return { moved: records.length }
}

async function runChild(log: string, transform: string, phase: string, segment: number, item = 0) {
  const child = forkFixture('repair-crash-child.ts', [log, transform, phase, String(segment), String(item)])
  let done = false
  child.on('message', (m: { done?: unknown }) => {
    if (m.done) done = true
  })
  return { ...(await exited(child)), done }
}

describe('crash safety of repair before redrive', () => {
  it('after a SIGKILL at any phase and recovery, each entry is in one log and the audit log names exactly what moved', async () => {
    const dir = tmpDir()
    const { log, originals } = buildLog(dir)
    const transform = path.join(dir, 'fix.mjs')
    fs.writeFileSync(transform, "export default (p) => ({ ...p, amount: Number(p.amount.replace(',', '.')), fixed: true })\n")
    const kills: Array<[string, number, number]> = [
      ['item', 1, 500], // temp files partly written → rolled back, no audit record
      ['synced', 1, 0], // temps complete, audit not yet written → rolled back
      ['side-written', 1, 0], // audit appended, journal still "moving" → rolled back, audit cut back
      ['journal-moving', 1, 0], // journal written, nothing else
      ['committed', 1, 0], // committed → rolled forward, audit kept
      ['renamed', 1, 0], // outputs visible, source not yet deleted
      ['source-deleted', 1, 0], // only the journal left; the last segment is the final run's
    ]
    let movedBefore = 0
    for (const [phase, segment, item] of kills) {
      const r = await runChild(log, transform, phase, segment, item)
      expect([phase, r.signal]).toEqual([phase, 'SIGKILL'])
      // The recovery every later operation runs first.
      await withMaintenance(logPaths(log), { sealPermanent: false, sealTimeout: 1000, signal: undefined, operation: 'test' }, async () => {})
      const { moved } = check(log, originals)
      // A kill after the commit moved a segment; one before it moved nothing.
      const committed = ['committed', 'renamed', 'source-deleted'].includes(phase)
      expect([phase, moved - movedBefore]).toEqual([phase, committed ? PER_SEGMENT / 2 : 0])
      movedBefore = moved
    }
    const last = await runChild(log, transform, 'none', 0)
    expect(last.done).toBe(true)
    expect(check(log, originals).moved).toBe((SEGMENTS * PER_SEGMENT) / 2)
    expect(fs.readdirSync(dir).filter((n) => n.includes('rewrite'))).toEqual([])
  }, 120_000)
})
