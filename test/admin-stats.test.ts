/**
 * Library `stats()`: the same object `dletter stats --json` prints, computed without the
 * CLI, read-only, honouring `top` and the log's `maxRecordSize`.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type LocalStatsBackend, stats } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { buildAdminLog } from './fixtures/admin-log.js'
import { envLine, runCli, snapshot, writeLines } from './fixtures/cli-util.js'

/** Everything but the moment of the call. */
function stable(s: Record<string, unknown>): Record<string, unknown> {
  const { at: _at, ...rest } = s
  return rest
}

const local = (s: { backend: unknown }) => s.backend as LocalStatsBackend

describe('stats()', () => {
  it('returns what `dletter stats --json` prints, and changes nothing', async () => {
    const dir = tmpDir()
    const b = buildAdminLog(dir)
    const before = snapshot(dir)
    const lib = await stats(b.log)
    expect(snapshot(dir)).toEqual(before)
    const cli = await runCli(['stats', b.log, '--json'])
    expect(cli.code, cli.stderr).toBe(0)
    expect(stable(lib as unknown as Record<string, unknown>)).toEqual(stable(JSON.parse(cli.stdout) as Record<string, unknown>))

    expect(lib.retry).toMatchObject({ count: 4, due: 3, deferred: 1, attempts: { '1': 2, '2': 1, '3': 1 } })
    expect(local(lib).retry.checkpointed).toBe(1)
    expect(lib.retry.reasons[0]).toMatchObject({ fingerprint: 'timeout after <n>ms', count: 2 })
    expect(lib.permanent).toMatchObject({ count: 5, byFinal: { exhausted: 3, permanent: 2 } })
    expect(lib.corrupt.count).toBe(2)
    expect(local(lib).interruptedRewrite).toBeNull()
  })

  it('lists at most `top` reason groups', async () => {
    const dir = tmpDir()
    const b = buildAdminLog(dir)
    const s = await stats(b.log, { top: 1 })
    expect(s.retry.reasons).toHaveLength(1)
    expect(s.permanent.reasons).toHaveLength(1)
    expect(s.permanent.reasons[0]).toMatchObject({ fingerprint: 'legacy endpoint gone', count: 2 })
  })

  it('reads records up to the maxRecordSize given, not the default', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const big = envLine({ ts: Date.now(), attempt: 1, reason: 'big', payload: 'x'.repeat(4096) })
    writeLines(path.join(dir, 'orders.000000000001.log'), [big])
    const small = await stats(log, { maxRecordSize: 1024 })
    expect([small.retry.count, local(small).retry.unparseable]).toEqual([0, 1])
    const large = await stats(log, { maxRecordSize: '8KiB' })
    expect([large.retry.count, local(large).retry.unparseable]).toEqual([1, 0])
  })

  it('fast: true takes the counts from logCounts, and they agree with the full scan', async () => {
    const dir = tmpDir()
    const b = buildAdminLog(dir)
    const full = await stats(b.log)
    const fast = await stats(b.log, { fast: true })
    expect(fast.retry).toMatchObject({ count: full.retry.count, due: full.retry.due, deferred: full.retry.deferred, reasons: [], attempts: {} })
    expect(fast.retry.oldestTs).toBe(full.retry.oldestTs)
    expect(fast.permanent.count).toBe(full.permanent.count)
    expect(fast.corrupt.count).toBe(full.corrupt.count)
    expect(local(fast).retry.sealedSegments).toBe(local(full).retry.sealedSegments)
    // Segment 1 is partly replayed and its due times straddle now (r1 later, r2 due): its due
    // count is derived from the checkpoint, which docs/log-counts.md calls not exact.
    expect(fast.exact).toMatchObject({ due: false })
    expect(full.exact).toBeNull()
    const cli = await runCli(['stats', b.log, '--fast', '--json'])
    expect(cli.code, cli.stderr).toBe(0)
    expect(JSON.parse(cli.stdout)).toMatchObject({ retry: { count: full.retry.count }, exact: { due: false } })
  })

  it('reports progress as it scans', async () => {
    const dir = tmpDir()
    const b = buildAdminLog(dir)
    const seen: Array<{ done: number; total: number | null }> = []
    await stats(b.log, { onProgress: (p) => seen.push(p) })
    expect(seen.length).toBeGreaterThan(0)
    const last = seen[seen.length - 1]
    expect(last.done).toBeLessThanOrEqual(last.total!)
  })
})
