/**
 * What log() records of the active OpenTelemetry context (real SDK): the W3C traceparent and
 * tracestate exactly as the W3C propagators would send them, baggage only with
 * `traceBaggage: true`, nothing with `trace: false` or without a span; and the record keeps
 * that context through the permanent log and a requeue.
 */
import fs from 'node:fs'
import path from 'node:path'
import { ROOT_CONTEXT, context, createTraceState, propagation, trace } from '@opentelemetry/api'
import { W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { describe, expect, it } from 'vitest'
import { Logger, PermanentError, replay, requeue } from '../src/index.js'
import { processSpans, useTracing } from './helpers/otel.js'
import { tmpDir } from './helpers/tmp.js'
import { permanentRecords, retryRecords } from './fixtures/replay-util.js'

const otel = useTracing()

/** The headers the W3C propagators would send from `ctx`. */
function headers(ctx = context.active()): Record<string, string> {
  const out: Record<string, string> = {}
  new W3CTraceContextPropagator().inject(ctx, out, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) })
  new W3CBaggagePropagator().inject(ctx, out, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) })
  return out
}

function activeLines(log: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** Runs `fn` in a span whose context carries a tracestate and baggage. */
function inRequest<T>(fn: () => Promise<T>): Promise<{ result: T; sent: Record<string, string> }> {
  let parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: 1, isRemote: true, traceState: createTraceState('vendor=abc,other=x') })
  const b = propagation.createBaggage({ tenant: { value: 'acme corp' }, 'user.id': { value: 'u=1;2' } })
  parent = propagation.setBaggage(parent, b)
  return otel.tracer.startActiveSpan('POST /orders', {}, parent, async (span) => {
    const sent = headers()
    const result = await fn()
    span.end()
    return { result, sent }
  })
}

describe('log() records the trace context', () => {
  it('traceparent and tracestate as the W3C propagator sends them; baggage only when asked', async () => {
    const dir = tmpDir()
    const plain = await Logger.open(path.join(dir, 'plain.log'))
    const withBaggage = await Logger.open(path.join(dir, 'bag.log'), { traceBaggage: true })
    const { sent } = await inRequest(async () => {
      await plain.log({ n: 1 }, 'boom')
      await plain.logPermanent({ n: 2 }, 'bad')
      await withBaggage.log({ n: 3 }, 'boom')
    })
    await plain.close()
    await withBaggage.close()
    expect(sent.traceparent).toMatch(/^00-c{32}-[0-9a-f]{16}-01$/)
    const [a] = activeLines(path.join(dir, 'plain.log'))
    expect(a).toEqual({ ts: expect.any(Number), attempt: 1, reason: 'boom', tp: sent.traceparent, tpState: 'vendor=abc,other=x', payload: { n: 1 } })
    expect(permanentRecords(path.join(dir, 'plain.log')).map((r) => r.obj.tp)).toEqual([sent.traceparent])
    const [b] = activeLines(path.join(dir, 'bag.log'))
    expect(b).toMatchObject({ tp: sent.traceparent, tpState: 'vendor=abc,other=x', baggage: sent.baggage })
    // The payload is still the last key: replay splices its bytes when it re-logs.
    expect(Object.keys(b!).at(-1)).toBe('payload')
  })

  it('records nothing outside a span, nor with trace: false; the line is then byte for byte as before', async () => {
    const dir = tmpDir()
    const now = () => 1_700_000_000_000
    const on = await Logger.open(path.join(dir, 'on.log'), { now, traceBaggage: true })
    const off = await Logger.open(path.join(dir, 'off.log'), { now, trace: false, traceBaggage: true })
    await on.log({ n: 1 }, 'outside any span')
    await inRequest(() => off.log({ n: 1 }, 'outside any span'))
    await on.close()
    await off.close()
    const expected = '{"ts":1700000000000,"attempt":1,"reason":"outside any span","payload":{"n":1}}\n'
    expect(fs.readFileSync(path.join(dir, 'on.log'), 'utf8')).toBe(expected)
    expect(fs.readFileSync(path.join(dir, 'off.log'), 'utf8')).toBe(expected)
  })

  it('replay gives the handler the baggage that was recorded', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log, { traceBaggage: true })
    await inRequest(() => dlq.log({ n: 1 }, 'boom'))
    await dlq.close()
    const seen: Array<Record<string, string>> = []
    await replay(log, () => {
      const b = propagation.getBaggage(context.active())
      seen.push(Object.fromEntries((b?.getAllEntries() ?? []).map(([k, e]) => [k, e.value])))
    })
    expect(seen).toEqual([{ tenant: 'acme corp', 'user.id': 'u=1;2' }])
  })

  it('the permanent record and a requeue (resetting attempts) keep the original context', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log)
    const { sent } = await inRequest(() => dlq.log({ n: 1 }, 'boom', { id: 'ord-1' }))
    await dlq.close()
    await replay(log, () => {
      throw new PermanentError('card declined')
    })
    expect(permanentRecords(log).map((r) => r.obj.tp)).toEqual([sent.traceparent])
    // resetAttempts rewrites the record (without it the line is moved byte for byte).
    expect(await requeue(log, { resetAttempts: true })).toMatchObject({ count: 1 })
    expect(retryRecords(log).map((r) => [r.obj.attempt, r.obj.tp, r.obj.tpState])).toEqual([[1, sent.traceparent, 'vendor=abc,other=x']])
    await replay(log, () => {})
    const spans = processSpans(otel.spans())
    const traceId = sent.traceparent!.slice(3, 35)
    const spanId = sent.traceparent!.slice(36, 52)
    // Both replays: the one that made it permanent and the one after the requeue.
    expect(spans.map((s) => s.links)).toEqual([
      [{ traceId, spanId, traceState: 'vendor=abc,other=x' }],
      [{ traceId, spanId, traceState: 'vendor=abc,other=x' }],
    ])
  })
})
