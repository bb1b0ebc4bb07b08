/**
 * Replay events: one per-outcome event per item with the right payload, and progress
 * events that end at bytesDone === bytesTotal with the item count.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, PermanentError, type OutcomeEvent, type ReplayProgress } from '../src/index.js'
import { Replayer } from '../src/replay/index.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, lineOffsets, writeSegment } from './fixtures/replay-util.js'

const NOW = 1_800_000_000_000
const OUTCOMES = ['delivered', 'requeued', 'deferred', 'permanent', 'expired', 'corrupt'] as const

function mixedSegment(log: string, seq: number, mtime: number): string[] {
  const lines = [
    envLine({ ts: NOW, id: 'ok', payload: 'ok' }),
    envLine({ ts: NOW, id: 'fail', payload: 'fail' }),
    envLine({ ts: NOW, id: 'perm', payload: 'perm' }),
    envLine({ ts: NOW, id: 'exhausted', attempt: 5, payload: 'exhausted' }),
    envLine({ ts: NOW, id: 'later', dueTs: NOW + 1, payload: 'later' }),
    envLine({ ts: 1, id: 'old', payload: 'old' }),
    'garbage',
    envLine({ ts: NOW, id: 'ok2', payload: 'ok2' }),
  ]
  writeSegment(log, seq, lines, { mtime })
  return lines
}

const handler = (p: unknown) => {
  if (p === 'fail') throw new Error('transient')
  if (p === 'perm') throw new PermanentError('bad')
}

describe('replay events', () => {
  it('fire once per item per outcome, with counts matching the summary and the right details', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const lines = mixedSegment(log, 1, 1000)
    mixedSegment(log, 2, 2000)
    const offsets = lineOffsets(lines)
    const events: Record<string, OutcomeEvent[]> = {}
    const r = new Replayer(log, handler, { now: () => NOW, ttl: '1d', concurrency: 3 })
    for (const o of OUTCOMES) {
      events[o] = []
      r.on(o, (e) => events[o].push(e))
    }
    const s = await r.run()
    for (const o of OUTCOMES) expect(events[o].length, o).toBe(s[o])
    expect(s).toMatchObject({ delivered: 4, requeued: 2, deferred: 2, permanent: 4, expired: 2, corrupt: 2, handled: 16 })
    const first = (o: (typeof OUTCOMES)[number]) => events[o].find((e) => e.segment === 'orders.000000000001.log')!
    expect(first('delivered')).toMatchObject({ outcome: 'delivered', offset: 0, envelope: { id: 'ok', payload: 'ok' } })
    expect(first('requeued')).toMatchObject({ outcome: 'requeued', offset: offsets[1], reason: 'transient', envelope: { id: 'fail' } })
    expect(events.permanent.filter((e) => e.segment === 'orders.000000000001.log').map((e) => [e.envelope?.id, e.reason, e.offset])).toEqual([
      ['perm', 'bad', offsets[2]],
      ['exhausted', 'boom', offsets[3]],
    ])
    expect(first('deferred')).toMatchObject({ offset: offsets[4], envelope: { id: 'later' } })
    expect(first('expired')).toMatchObject({ offset: offsets[5], envelope: { id: 'old' } })
    expect(first('corrupt')).toMatchObject({ offset: offsets[6] })
    expect(first('corrupt').error).toMatch(/invalid JSON/)
    expect(first('corrupt').envelope).toBeUndefined()
  })

  it('progress: monotonic, never past the total, ending at bytesDone === bytesTotal and items === handled', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    for (let seg = 1; seg <= 3; seg++) {
      writeSegment(log, seg, Array.from({ length: 500 }, (_, i) => envLine({ payload: { seg, i, pad: 'x'.repeat(100) } })), {
        mtime: 1000 + seg,
        gz: seg === 2,
      })
    }
    const total = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
    const progress: ReplayProgress[] = []
    const r = new Replayer(log, () => {})
    r.on('progress', (p) => progress.push(p))
    const s = await r.run()
    expect(progress.length).toBeGreaterThanOrEqual(1)
    for (let i = 0; i < progress.length; i++) {
      const p = progress[i]
      expect(p.bytesTotal).toBe(total)
      expect(p.bytesDone).toBeLessThanOrEqual(total)
      expect(p.items).toBeLessThanOrEqual(s.handled)
      expect(p.segment).toMatch(/^orders\.\d{12}\.log(\.gz)?$/)
      if (i > 0) {
        expect(p.bytesDone).toBeGreaterThanOrEqual(progress[i - 1].bytesDone)
        expect(p.items).toBeGreaterThanOrEqual(progress[i - 1].items)
      }
    }
    const last = progress[progress.length - 1]
    expect(last).toMatchObject({ bytesDone: total, bytesTotal: total, items: 1500 })
  })

  it('dlq.replay() emits the same events on the Logger', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log, { sealPollInterval: 0, now: () => NOW })
    try {
      await dlq.log('ok', 'r')
      await dlq.log('fail', 'r')
      await dlq.log('perm', 'r')
      const counts: Record<string, number> = {}
      for (const o of OUTCOMES) dlq.on(o, () => (counts[o] = (counts[o] ?? 0) + 1))
      const progress: ReplayProgress[] = []
      dlq.on('progress', (p) => progress.push(p))
      const s = await dlq.replay(handler, { now: () => NOW })
      expect(counts).toEqual({ delivered: 1, requeued: 1, permanent: 1 })
      expect(s).toMatchObject({ delivered: 1, requeued: 1, permanent: 1 })
      expect(progress.at(-1)).toMatchObject({ items: 3 })
      expect(progress.at(-1)!.bytesDone).toBe(progress.at(-1)!.bytesTotal)
    } finally {
      await dlq.close()
    }
  })
})
