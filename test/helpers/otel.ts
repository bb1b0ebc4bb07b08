/**
 * The real OpenTelemetry SDK for the tracing tests: a BasicTracerProvider exporting to an
 * in-memory exporter through a SimpleSpanProcessor (a span is there once it ended), and the
 * AsyncLocalStorage context manager, registered globally for the test file (each file runs in
 * its own process). `spans()` gives what was exported, simplified for assertions
 * (fixtures/otel-simplify.mjs); handler modules for child processes (handlerModuleSource) set
 * up the same SDK and write theirs to a file.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ROOT_CONTEXT, context, createTraceState, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterEach } from 'vitest'
import { simplify } from '../fixtures/otel-simplify.mjs'
import { Logger, type LoggerOptions } from '../../src/index.js'

export interface SimpleSpan {
  name: string
  kind: number
  traceId: string
  spanId: string
  parentSpanId?: string
  links: Array<{ traceId: string; spanId: string; traceState?: string }>
  attributes: Record<string, unknown>
  status: { code: number; message?: string }
  events: string[]
}

let exporter: InMemorySpanExporter | undefined

/** Register the SDK (once per test file); exported spans are cleared after each test. */
export function useTracing(): { spans(): SimpleSpan[]; tracer: ReturnType<typeof trace.getTracer> } {
  if (exporter === undefined) {
    exporter = new InMemorySpanExporter()
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }))
  }
  const ex = exporter
  afterEach(() => ex.reset())
  return { spans: () => ex.getFinishedSpans().map((s) => simplify(s) as SimpleSpan), tracer: trace.getTracer('test') }
}

/** The process spans dletter made, in the order they ended. */
export function processSpans(spans: SimpleSpan[]): SimpleSpan[] {
  return spans.filter((s) => s.attributes['messaging.system'] === 'dletter')
}

/**
 * Logs `n` items ({ n: i }, id item-i, reason 'downstream timeout') to `log` inside one span
 * ('POST /orders'); with `traceState` or `baggage`, that span's parent is a remote context
 * carrying them. Returns the span's ids.
 */
export async function logInSpan(
  tracer: ReturnType<typeof trace.getTracer>,
  log: string,
  n: number,
  opts: { traceState?: string; baggage?: Record<string, string>; logger?: LoggerOptions } = {},
): Promise<{ traceId: string; spanId: string }> {
  const dlq = await Logger.open(log, opts.logger)
  let parent = context.active()
  if (opts.traceState !== undefined) {
    parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1, isRemote: true, traceState: createTraceState(opts.traceState) })
  }
  if (opts.baggage !== undefined) {
    parent = propagation.setBaggage(parent, propagation.createBaggage(Object.fromEntries(Object.entries(opts.baggage).map(([k, value]) => [k, { value }]))))
  }
  const sc = await tracer.startActiveSpan('POST /orders', {}, parent, async (span) => {
    for (let i = 0; i < n; i++) await dlq.log({ n: i }, 'downstream timeout', { id: `item-${i}` })
    span.end()
    return span.spanContext()
  })
  await dlq.close()
  return { traceId: sc.traceId, spanId: sc.spanId }
}

const require_ = createRequire(import.meta.url)
const moduleUrl = (spec: string) => JSON.stringify(pathToFileURL(require_.resolve(spec)).href)
const simplifyUrl = JSON.stringify(pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'otel-simplify.mjs')).href)

/**
 * The source of a handler module for `dletter replay` in a child process. It sets up the SDK
 * at its top level, as a user's module would (a BatchSpanProcessor that would export only
 * after a minute), and at exit writes the spans exported in that process to $SPANS, one per
 * line. Each call appends the payload's n to $CALLS.
 */
export function handlerModuleSource(): string {
  return `import fs from 'node:fs'
import { context, trace } from ${moduleUrl('@opentelemetry/api')}
import { AsyncLocalStorageContextManager } from ${moduleUrl('@opentelemetry/context-async-hooks')}
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from ${moduleUrl('@opentelemetry/sdk-trace-base')}
import { simplify } from ${simplifyUrl}

const exporter = new InMemorySpanExporter()
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
// Batched, as in production: the spans still queued when the CLI exits must be flushed by it.
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60000 })] }))
process.on('exit', () => {
  fs.writeFileSync(process.env.SPANS, exporter.getFinishedSpans().map((s) => JSON.stringify(simplify(s)) + '\\n').join(''))
})

export default async function handler(payload) {
  fs.appendFileSync(process.env.CALLS, payload.n + '\\n')
}
`
}
