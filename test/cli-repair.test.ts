/**
 * `dletter requeue --transform`: the dry run prints the first changes as diffs and the counts
 * and writes nothing; without --why it is a usage error (exit 1); a missing module exits 3
 * (DLQ_TRANSFORM); the real run repairs, audits with --actor and --why, and says where.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from './helpers/tmp.js'
import { envLine, familyLines, runCli, snapshot, writeLines } from './fixtures/cli-util.js'

function build(dir: string): string {
  const lines = Array.from({ length: 8 }, (_, i) =>
    envLine({ ts: 1000 + i, attempt: 4, reason: 'amount is not a number', id: `o${i}`, final: 'exhausted', payload: { id: `o${i}`, amount: `${i},50` } }),
  )
  writeLines(path.join(dir, 'permanent-orders.000000000001.log'), lines)
  fs.writeFileSync(path.join(dir, 'fix.mjs'), "export default (p) => ({ ...p, amount: Number(p.amount.replace(',', '.')) })\n")
  return path.join(dir, 'orders.log')
}

describe('dletter requeue --transform', () => {
  it('dry run: diffs of the first changes and the counts, nothing written; then the audited repair', async () => {
    const dir = tmpDir()
    const log = build(dir)
    const fix = path.join(dir, 'fix.mjs')
    const before = snapshot(dir)
    const dry = await runCli(['requeue', log, '--transform', fix, '--why', 'amounts as text', '--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/would repair 8, 0 left as they were/)
    expect(dry.stdout).toContain('--- permanent/permanent-orders.000000000001.log/0 (id o0)\n  - /amount: "0,50"\n  + /amount: 0.5\n')
    expect(dry.stdout).toMatch(/\(first 5 of 8 changes shown\)/)
    expect(dry.stdout).toMatch(/dry run: would move 8 entries/)
    expect(snapshot(dir)).toEqual(before)

    const noWhy = await runCli(['requeue', log, '--transform', fix])
    expect([noWhy.code, noWhy.stderr]).toEqual([1, expect.stringMatching(/--transform.*needs.*--why|needs `why`|--why/)])
    const missing = await runCli(['requeue', log, '--transform', path.join(dir, 'nope.mjs'), '--why', 'x'])
    expect([missing.code, missing.stderr]).toEqual([3, expect.stringMatching(/does not exist/)])
    expect(snapshot(dir)).toEqual(before)

    const real = await runCli(['requeue', log, '--transform', fix, '--why', 'amounts as text', '--actor', 'alice', '--no-progress'])
    expect(real.code, real.stderr).toBe(0)
    expect(real.stdout).toMatch(/repaired 8/)
    expect(real.stdout).toContain(`audit: 8 record(s) in ${log}.audit.jsonl`)
    expect(familyLines(log, 'retry').map((l) => (JSON.parse(l) as { payload: { amount: number } }).payload.amount)).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5])
    const audit = fs.readFileSync(`${log}.audit.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { actor: string; why: string; transform: { path: string } })
    expect(audit).toHaveLength(8)
    expect(audit[0]).toMatchObject({ actor: 'alice', why: 'amounts as text', transform: { path: fix } })
  }, 120_000)
})
