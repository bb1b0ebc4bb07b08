/**
 * Library `inspect()`: entries of each log as an async iterable with the CLI's filters (and
 * payload / attempt), oldest or newest first, skip for paging, and a summary at the end.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Entry as InspectEntry, type InspectOptions, type LocalOptions, inspect } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { type AdminLog, H, buildAdminLog } from './fixtures/admin-log.js'
import { envLine, runCli, snapshot, writeLines } from './fixtures/cli-util.js'

async function list(log: string, opts?: InspectOptions & LocalOptions): Promise<InspectEntry[]> {
  const out: InspectEntry[] = []
  for await (const e of inspect(log, opts)) out.push(e)
  return out
}

const ids = (entries: InspectEntry[]) => entries.map((e) => e.id)

function fresh(): AdminLog {
  return buildAdminLog(tmpDir())
}

describe('inspect()', () => {
  it('lists pending retry items from the checkpoint on, each with its stored line (what `inspect --json` prints)', async () => {
    const b = fresh()
    const before = snapshot(path.dirname(b.log))
    const entries = await list(b.log)
    expect(snapshot(path.dirname(b.log))).toEqual(before)
    expect(entries.map((e) => e.line)).toEqual(b.retry)
    const cli = await runCli(['inspect', b.log, '--json'])
    expect(cli.code, cli.stderr).toBe(0)
    expect(cli.stdout).toBe(entries.map((e) => e.line + '\n').join(''))

    const r1 = entries[0]
    expect(r1).toMatchObject({ kind: 'retry', id: 'r1', attempt: 2, reason: 'timeout after 3012ms', fingerprint: 'timeout after <n>ms', payload: { sku: 'A-1' } })
    expect(r1.dueTs).toBe(b.now + H)
    expect(r1.file).toBe(path.join(path.dirname(b.log), 'orders.000000000001.log'))
    expect(r1.offset).toBeGreaterThan(0)
  })

  it('filters by reason (RegExp or substring), id, time, payload, attempt, with limit', async () => {
    const b = fresh()
    const perm = (f: InspectOptions) => list(b.log, { kind: 'permanent', ...f }).then(ids)
    expect(await perm({})).toEqual(['p1', 'p2', 'p3', 'p4', 'p5'])
    expect(await perm({ reason: /declined/i })).toEqual(['p2', 'p4'])
    expect(await perm({ reason: 'declined' })).toEqual(['p2'])
    expect(await perm({ reason: 'timeout (' })).toEqual([]) // a substring, not a pattern
    expect(await perm({ id: 'p3' })).toEqual(['p3'])
    expect(await perm({ id: ['p5', 'p1'] })).toEqual(['p1', 'p5'])
    expect(await perm({ since: '35h' })).toEqual(['p3', 'p4', 'p5'])
    expect(await perm({ since: new Date(b.now - 35 * H), until: b.now - 15 * H })).toEqual(['p3', 'p4'])
    expect(await perm({ olderThan: '35h' })).toEqual(['p1', 'p2'])
    expect(await perm({ olderThan: 35 * H })).toEqual(['p1', 'p2'])
    expect(await perm({ payload: '"sku":"A-' })).toEqual(['p1', 'p4'])
    expect(await perm({ attempt: 4 })).toEqual(['p1', 'p3', 'p5'])
    expect(await perm({ reason: /legacy/, attempt: 5 })).toEqual(['p3'])
    const limited = inspect(b.log, { kind: 'permanent', limit: 2 })
    const got: string[] = []
    for await (const e of limited) got.push(e.id!)
    expect(got).toEqual(['p1', 'p2'])
    expect(limited.summary).toMatchObject({ entries: 2, stopped: 'limit', unparseable: 0 })
  })

  it('lists the corrupt quarantine with the parse error as reason', async () => {
    const b = fresh()
    const entries = await list(b.log, { kind: 'corrupt' })
    expect(entries.map((e) => e.line)).toEqual(b.corrupt)
    expect(entries[0]).toMatchObject({ kind: 'corrupt', attempt: 0, reason: 'invalid JSON', raw: 'xyz', rawEncoding: 'utf8', origin: { segment: 'orders.000000000007.log', offset: 0, length: 3 } })
    expect(ids(await list(b.log, { kind: 'corrupt', reason: 'empty' }))).toHaveLength(1)
    expect((await list(b.log, { kind: 'corrupt', payload: 'xyz' })).map((e) => e.reason)).toEqual(['invalid JSON'])
  })

  it("order 'newest' with skip and limit pages from the end", async () => {
    const b = fresh()
    const page = (skip: number) => list(b.log, { kind: 'permanent', order: 'newest', limit: 2, skip }).then(ids)
    expect(await page(0)).toEqual(['p5', 'p4'])
    expect(await page(2)).toEqual(['p3', 'p2'])
    expect(await page(4)).toEqual(['p1'])
    expect(await page(5)).toEqual([])
    const it = inspect(b.log, { kind: 'permanent', order: 'newest', limit: 2, skip: 1, reason: /legacy|declined/i })
    const got: string[] = []
    for await (const e of it) got.push(e.id!)
    expect(got).toEqual(['p4', 'p3'])
    expect(it.summary).toMatchObject({ entries: 2, skipped: 1, stopped: 'limit' })
  })

  it('skip pages oldest first too; breaking out of the loop stops the read', async () => {
    const b = fresh()
    expect(ids(await list(b.log, { kind: 'permanent', skip: 3 }))).toEqual(['p4', 'p5'])
    expect(ids(await list(b.log, { kind: 'permanent', skip: 1, limit: 2 }))).toEqual(['p2', 'p3'])
    const seen: string[] = []
    for await (const e of inspect(b.log, { kind: 'permanent' })) {
      seen.push(e.id!)
      if (seen.length === 2) break
    }
    expect(seen).toEqual(['p1', 'p2'])
  })

  it('streams a log larger than its read-ahead in order, and counts unparseable lines', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const now = Date.now()
    const lines: string[] = []
    for (let i = 0; i < 3000; i++) lines.push(envLine({ ts: now - i, attempt: 1, reason: `r${i % 7}`, id: `e${i}`, payload: { i } }))
    writeLines(path.join(dir, 'orders.000000000001.log'), [...lines.slice(0, 1500), 'garbage', ...lines.slice(1500)])
    const it = inspect(log)
    const got: string[] = []
    for await (const e of it) got.push(e.line)
    expect(got).toEqual(lines)
    expect(it.summary).toMatchObject({ entries: 3000, unparseable: 1, stopped: null, readErrors: [] })
    expect((await list(log, { maxRecordSize: 64 })).length).toBe(0)
  })

  it('stops with DLQ_ABORTED when its signal fires', async () => {
    const b = fresh()
    const ac = new AbortController()
    const seen: string[] = []
    const run = async () => {
      for await (const e of inspect(b.log, { kind: 'permanent', signal: ac.signal })) {
        seen.push(e.id!)
        ac.abort()
      }
    }
    await expect(run()).rejects.toMatchObject({ code: 'DLQ_ABORTED' })
    expect(seen.length).toBeLessThan(5)
  })
})

