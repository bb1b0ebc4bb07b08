/**
 * Process spans of a local replay, with the real OpenTelemetry SDK (in-memory exporter): one
 * CONSUMER span per handler call, linked to the context log() recorded (or its child with
 * `traceParent: 'child'`), the handler's own spans nested under it, an error status when the
 * handler fails, and the one original context however often the item is re-logged.
 */
import path from 'node:path'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import { Logger, PermanentError, replay } from '../src/index.js'
import { logInSpan, processSpans, useTracing } from './helpers/otel.js'
import { tmpDir } from './helpers/tmp.js'
import { permanentRecords, retryRecords } from './fixtures/replay-util.js'

const otel = useTracing()

async function logged(n: number, opts: { traceState?: string } = {}): Promise<{ log: string; traceId: string; spanId: string }> {
  const log = path.join(tmpDir(), 'orders.log')
  return { log, ...(await logInSpan(otel.tracer, log, n, opts)) }
}

describe('local replay: process spans', () => {
  it('links each handler call to the span that was active when the item was logged', async () => {
    const { log, traceId, spanId } = await logged(2, { traceState: 'vendor=abc' })
    const s = await replay(log, () => {})
    expect(s).toMatchObject({ delivered: 2 })
    const spans = processSpans(otel.spans())
    expect(spans).toHaveLength(2)
    spans.forEach((sp, i) => {
      expect(sp.name).toBe(`process ${path.resolve(log)}`)
      expect(sp.kind).toBe(SpanKind.CONSUMER)
      expect(sp.links).toEqual([{ traceId, spanId, traceState: 'vendor=abc' }])
      // A new trace: no parent (replay ran outside any span), not the original trace.
      expect(sp.parentSpanId).toBeUndefined()
      expect(sp.traceId).not.toBe(traceId)
      expect(sp.attributes).toEqual({
        'messaging.system': 'dletter',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': path.resolve(log),
        'messaging.message.id': `item-${i}`,
        'dletter.attempt': 1,
      })
      expect(sp.status.code).toBe(SpanStatusCode.UNSET)
    })
  })

  it('a re-logged item replayed three times gives three spans, all linked to the one original context', async () => {
    const { log, traceId, spanId } = await logged(1)
    const results = [new Error('still down'), new Error('still down'), undefined]
    for (const result of results) {
      const s = await replay(log, () => {
        if (result) throw result
      }, { initialWait: 0 })
      expect(s.due).toBe(1)
      if (result) {
        // The re-log carries the original context, not one of the replay's.
        const retry = retryRecords(log).map((r) => r.obj)
        expect(retry).toHaveLength(1)
        expect(retry[0]!.tp).toBe(`00-${traceId}-${spanId}-01`)
      }
    }
    const spans = processSpans(otel.spans())
    expect(spans.map((s) => s.attributes['dletter.attempt'])).toEqual([1, 2, 3])
    for (const sp of spans) expect(sp.links).toEqual([{ traceId, spanId }])
    expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET])
    // Three separate traces: no endless trace grows across the attempts.
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(3)
  })

  it("traceParent: 'child' continues the original trace instead of linking to it", async () => {
    const { log, traceId, spanId } = await logged(1)
    await replay(log, () => {}, { traceParent: 'child' })
    const [sp] = processSpans(otel.spans())
    expect(sp).toMatchObject({ traceId, parentSpanId: spanId, links: [] })
  })

  it("the handler's own spans nest under its process span, also with concurrent handler calls", async () => {
    const { log } = await logged(8)
    await replay(
      log,
      async (p: { n: number }) => {
        await new Promise((r) => setTimeout(r, (p.n * 7) % 5))
        await otel.tracer.startActiveSpan(`work ${p.n}`, async (span) => {
          await new Promise((r) => setTimeout(r, 1))
          span.end()
        })
      },
      { concurrency: 4 },
    )
    const all = otel.spans()
    const byId = new Map(processSpans(all).map((s) => [s.spanId, s]))
    expect(byId.size).toBe(8)
    for (let n = 0; n < 8; n++) {
      const work = all.find((s) => s.name === `work ${n}`)!
      const parent = byId.get(work.parentSpanId!)
      expect(parent?.attributes['messaging.message.id']).toBe(`item-${n}`)
      expect(work.traceId).toBe(parent!.traceId)
    }
  })

  it('a replay run inside a span makes the process spans its children, still linked to the original', async () => {
    const { log, traceId, spanId } = await logged(1)
    const cron = await otel.tracer.startActiveSpan('cron job', async (span) => {
      await replay(log, () => {})
      span.end()
      return span.spanContext()
    })
    const [sp] = processSpans(otel.spans())
    expect(sp).toMatchObject({ traceId: cron.traceId, parentSpanId: cron.spanId, links: [{ traceId, spanId }] })
  })

  it('a failing handler call ends its span with an error status and error.type; each in-place retry is a span', async () => {
    const { log, traceId, spanId } = await logged(3)
    await replay(
      log,
      (p: { n: number }) => {
        if (p.n === 0) throw Object.assign(new TypeError('upstream reset'), { code: 'ECONNRESET' })
        if (p.n === 1) throw new PermanentError('card declined')
        return new Promise(() => {}) // never settles: handlerTimeout ends it
      },
      { retries: 1, retryDelay: 1, handlerTimeout: 50 },
    )
    const spans = processSpans(otel.spans())
    const of = (n: number) => spans.filter((s) => s.attributes['messaging.message.id'] === `item-${n}`)
    // item 0: the call and its in-place retry; item 1: permanent at once; item 2: timed out twice.
    expect(of(0).map((s) => s.attributes['error.type'])).toEqual(['ECONNRESET', 'ECONNRESET'])
    expect(of(1).map((s) => s.attributes['error.type'])).toEqual(['PermanentError'])
    expect(of(2).map((s) => s.attributes['error.type'])).toEqual(['TimeoutError', 'TimeoutError'])
    for (const sp of spans) {
      expect(sp.status.code).toBe(SpanStatusCode.ERROR)
      expect(sp.events).toEqual(['exception'])
    }
    expect(of(0)[0]!.status.message).toBe('upstream reset')
    expect(of(2)[0]!.status.message).toBe('handler did not settle within 50 ms')
    // The permanent record and the re-logs keep the original context.
    const tp = `00-${traceId}-${spanId}-01`
    expect(permanentRecords(log).map((r) => r.obj.tp)).toEqual([tp])
    expect(retryRecords(log).map((r) => r.obj.tp)).toEqual([tp, tp])
  })

  it('trace: false makes no spans; dlq.replay() takes it from the logger', async () => {
    const { log } = await logged(2)
    expect(await replay(log, () => {}, { trace: false })).toMatchObject({ delivered: 2 })
    await logInSpan(otel.tracer, log, 2, { logger: { trace: false } })
    const dlq = await Logger.open(log, { trace: false })
    expect(await dlq.replay(() => {})).toMatchObject({ delivered: 2 })
    await dlq.close()
    expect(processSpans(otel.spans())).toEqual([])
  })

  it('a thrown value that is hostile to read still ends its span, with error.type _OTHER', async () => {
    const { log } = await logged(1)
    const hostile = new Proxy({}, { get: () => { throw new Error('no') }, getPrototypeOf: () => { throw new Error('no') } })
    expect(await replay(log, () => {
      throw hostile
    })).toMatchObject({ requeued: 1 })
    const [sp] = processSpans(otel.spans())
    expect(sp).toMatchObject({ status: { code: SpanStatusCode.ERROR }, attributes: expect.objectContaining({ 'error.type': '_OTHER' }) })
  })
})
