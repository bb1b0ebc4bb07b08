/**
 * A trace context replay cannot use (a hand-edited file) is ignored with a warning and never
 * costs the item: it is delivered, or re-logged with the field as it was; the warnings of one
 * run are bounded.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Replayer } from '../src/replay/index.js'
import { processSpans, useTracing } from './helpers/otel.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, retryRecords, writeSegment } from './fixtures/replay-util.js'

const otel = useTracing()

const GOOD = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

/** An envelope line with `extra` fields spliced in before the payload. */
function line(n: number, extra: Record<string, unknown>): string {
  const base = JSON.parse(envLine({ id: `item-${n}`, payload: { n } })) as Record<string, unknown>
  const { payload, ...head } = base
  return JSON.stringify({ ...head, ...extra, payload })
}

describe('a malformed trace context', () => {
  it('is ignored with a warning; the item is delivered, its span has no link', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const cases: Array<[Record<string, unknown>, string | null]> = [
      [{ tp: GOOD }, null],
      [{ tp: 'not a traceparent' }, '"tp" is not a W3C traceparent'],
      [{ tp: 42 }, '"tp" is not a string'],
      [{ tp: GOOD.toUpperCase() }, '"tp" is not a W3C traceparent'],
      [{ tp: `00-${'0'.repeat(32)}-b7ad6b7169203331-01` }, '"tp" has an all-zero trace id'],
      [{ tp: `ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01` }, '"tp" has the invalid version ff'],
      [{ tp: `${GOOD}-extra` }, '"tp" (version 00) has extra fields'],
      [{ tp: GOOD, baggage: 'tenant=%E0%A4%A' }, '"baggage" has a badly percent-encoded member'],
      [{ tp: GOOD, tpState: { vendor: 1 } }, '"tpState" is not a string'],
    ]
    const lines = cases.map(([extra], n) => line(n, extra))
    writeSegment(log, 1, lines)
    const r = new Replayer(log, () => {})
    const events: string[] = []
    r.on('warning', (e) => events.push(e.message))
    const s = await r.run()
    expect(s).toMatchObject({ delivered: cases.length, corrupt: 0 })
    const expected: string[] = []
    let offset = 0
    cases.forEach(([, why], n) => {
      if (why) expected.push(`ignored the malformed trace context of the item at byte ${offset} of orders.000000000001.log: ${why}`)
      offset += Buffer.byteLength(lines[n]!) + 1
    })
    expect(s.warnings).toEqual(expected)
    expect(events).toEqual(expected.map((w) => `dlq: ${w}`))
    const spans = processSpans(otel.spans())
    expect(spans).toHaveLength(cases.length)
    const linked = spans.filter((sp) => sp.links.length > 0).map((sp) => sp.attributes['messaging.message.id'])
    // A valid traceparent still links when only its baggage or tracestate is unusable.
    expect(linked).toEqual(['item-0', 'item-7', 'item-8'])
  })

  it('stays on the item as it was when the item is re-logged; past ten, the rest of a run is counted', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, Array.from({ length: 14 }, (_, n) => line(n, { tp: `bad-${n}` })))
    const s = await new Replayer(log, () => {
      throw new Error('still down')
    }).run()
    expect(s).toMatchObject({ requeued: 14, corrupt: 0 })
    expect(s.warnings).toHaveLength(11)
    expect(s.warnings.at(-1)).toBe("4 more items' malformed trace contexts were ignored")
    expect(retryRecords(log).map((r) => r.obj.tp)).toEqual(Array.from({ length: 14 }, (_, n) => `bad-${n}`))
  })
})
