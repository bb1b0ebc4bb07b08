/**
 * Tracing through the central store, on a real PostgreSQL: logged inside a span on a host,
 * shipped, replayed centrally — the process spans link to that span, however often the entry
 * fails and is replayed again; the store keeps the context in its `trace` column.
 */
import fs from 'node:fs'
import path from 'node:path'
import { SpanKind, SpanStatusCode, context, propagation } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import { type SimpleSpan, handlerModuleSource, logInSpan, processSpans, useTracing } from '../helpers/otel.js'
import { runCli } from '../fixtures/cli-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { collect, useCluster } from './setup.js'

const pg = useCluster()
const otel = useTracing()

async function logged(n: number): Promise<{ log: string; traceId: string; spanId: string }> {
  const log = path.join(tmpDir(), 'orders.log')
  const ids = await logInSpan(otel.tracer, log, n, { traceState: 'vendor=abc', baggage: { tenant: 'acme' }, logger: { traceBaggage: true } })
  return { log, ...ids }
}

describe('central replay: process spans', () => {
  it('log → ship → central replay: the spans link to the span active at log(), through the trace column', async () => {
    const store = await pg.store()
    const { log, traceId, spanId } = await logged(2)
    expect(await store.ship(log)).toMatchObject({ shipped: 2 })
    const entries = await collect(store.inspect())
    for (const e of entries) expect(e).toMatchObject({ tp: `00-${traceId}-${spanId}-01`, tpState: 'vendor=abc' })
    expect(await store.replay(() => {})).toMatchObject({ delivered: 2 })
    const spans = processSpans(otel.spans())
    expect(spans.map((s) => s.attributes['messaging.message.id']).sort()).toEqual(['item-0', 'item-1'])
    const origin = fs.realpathSync(path.dirname(log))
    for (const s of spans) {
      expect(s).toMatchObject({ name: `process ${path.join(origin, 'orders.log')}`, kind: SpanKind.CONSUMER, links: [{ traceId, spanId, traceState: 'vendor=abc' }] })
      expect(s.attributes).toMatchObject({ 'messaging.system': 'dletter', 'messaging.destination.name': path.join(origin, 'orders.log'), 'dletter.attempt': 1, 'dletter.host': 'host-a' })
    }
  })

  it('an entry that fails twice and is then delivered gives three spans, all linked to the one original context', async () => {
    const store = await pg.store()
    const { log, traceId, spanId } = await logged(1)
    await store.ship(log)
    for (const fail of [true, true, false]) {
      const s = await store.replay(() => {
        if (fail) throw Object.assign(new Error('still down'), { code: 'ECONNREFUSED' })
      }, { initialWait: 0, limit: 1 })
      expect(s.handled).toBe(1)
    }
    const spans = processSpans(otel.spans())
    expect(spans.map((s) => s.attributes['dletter.attempt'])).toEqual([1, 2, 3])
    for (const s of spans) expect(s.links).toEqual([{ traceId, spanId, traceState: 'vendor=abc' }])
    expect(spans.map((s) => [s.status.code, s.attributes['error.type']])).toEqual([
      [SpanStatusCode.ERROR, 'ECONNREFUSED'],
      [SpanStatusCode.ERROR, 'ECONNREFUSED'],
      [SpanStatusCode.UNSET, undefined],
    ])
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(3)
  })

  it("traceParent: 'child' continues the original trace; the handler sees the recorded baggage and nests its spans", async () => {
    const store = await pg.store()
    const { log, traceId, spanId } = await logged(1)
    await store.ship(log)
    const baggage: unknown[] = []
    await store.replay(async () => {
      baggage.push(propagation.getBaggage(context.active())?.getEntry('tenant')?.value)
      await otel.tracer.startActiveSpan('work', async (span) => span.end())
    }, { traceParent: 'child' })
    expect(baggage).toEqual(['acme'])
    const all = otel.spans()
    const [p] = processSpans(all)
    expect(p).toMatchObject({ traceId, parentSpanId: spanId, links: [] })
    expect(all.find((s) => s.name === 'work')).toMatchObject({ traceId, parentSpanId: p!.spanId })
  })

  it('a malformed traceparent in a shipped file is ignored with a warning; the entry is delivered', async () => {
    const warnings: string[] = []
    const logger = { info() {}, error() {}, warn: (_: object, m?: string) => warnings.push(m ?? '') }
    const store = await pg.store({ logger })
    const log = path.join(tmpDir(), 'orders.log')
    fs.writeFileSync(log, '{"ts":1000,"attempt":1,"reason":"x","tp":"00-nonsense","payload":{"n":1}}\n')
    await store.ship(log)
    const [e] = await collect(store.inspect())
    expect(await store.replay(() => {})).toMatchObject({ delivered: 1 })
    expect(warnings).toEqual([`dlq: ignored the malformed trace context of central entry ${e!.ref}: "tp" is not a W3C traceparent`])
    const [s] = processSpans(otel.spans())
    expect(s!.links).toEqual([])
  })

  it('dletter replay --db in another process: the handler module sets up the SDK, the spans link and are flushed before exit', async () => {
    // A database of its own: the CLI always uses the default schema.
    const { default: pgClient } = await import('pg')
    const admin = new pgClient.Client(pg.url)
    await admin.connect()
    await admin.query('CREATE DATABASE trace_cli')
    await admin.end()
    const url = pg.url.replace(/\/postgres$/, '/trace_cli')
    const { log, traceId, spanId } = await logged(2)
    const dir = path.dirname(log)
    expect((await runCli(['ship', log, '--db', url])).code).toBe(0)
    const handler = path.join(dir, 'handler.mjs')
    fs.writeFileSync(handler, handlerModuleSource())
    const env = { SPANS: path.join(dir, 'spans.jsonl'), CALLS: path.join(dir, 'calls.txt') }
    const r = await runCli(['replay', '--db', url, '--handler', handler, '--json'], { env })
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout)).toMatchObject({ delivered: 2 })
    const spans = fs.readFileSync(env.SPANS, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SimpleSpan)
    expect(spans.map((s) => s.attributes['messaging.message.id']).sort()).toEqual(['item-0', 'item-1'])
    for (const s of spans) expect(s.links).toEqual([{ traceId, spanId, traceState: 'vendor=abc' }])
  })
})
