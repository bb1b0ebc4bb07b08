/**
 * OpenTelemetry, when the application has it: `log()` records the active span's context in
 * the envelope, and replay runs each handler call inside a CONSUMER span (`process <log>`)
 * that links to it — or is its child, with `traceParent: 'child'` — so the trace of the
 * request that failed leads to the replay that delivered it, in another process or on
 * another host through the central store.
 *
 * `@opentelemetry/api` is an optional peer dependency, imported on first need and cached: an
 * application without it never loads a byte of it, and one with it but without a registered
 * SDK gets no spans (a run checks once, at its start) and captures nothing (no span is
 * active), so neither pays more than a property read per item. Nothing here may fail an item:
 * a trace context that cannot be used is reported and ignored, and an SDK that throws only
 * loses its span.
 */
import type * as Otel from '@opentelemetry/api'
import { boundedCall, isThenable } from './handler-timeout.js'
import { describeReason } from './reason.js'
import { type TraceContext, formatBaggage, formatTraceparent, parseBaggage, parseTraceparent } from './trace-context.js'

type Api = typeof Otel

let loading: Promise<Api | undefined> | undefined

/** The application's `@opentelemetry/api`, imported once per process; undefined when it is not installed. */
function loadTraceApi(): Promise<Api | undefined> {
  loading ??= import('@opentelemetry/api').then(
    (m) => m as Api,
    () => undefined,
  )
  return loading
}

// ------------------------------------------------------------------------------ capture

/** The active span's context as envelope fields; undefined when no valid span is active. */
export type CaptureTrace = () => TraceContext | undefined

/** A capture function for `log()`, or undefined when `@opentelemetry/api` is not installed. */
export async function traceCapture(baggage: boolean): Promise<CaptureTrace | undefined> {
  const api = await loadTraceApi()
  if (api === undefined) return undefined
  return () => capture(api, baggage)
}

function capture(api: Api, withBaggage: boolean): TraceContext | undefined {
  try {
    const ctx = api.context.active()
    const sc = api.trace.getSpanContext(ctx)
    if (sc === undefined || !api.isSpanContextValid(sc)) return undefined
    const tc: TraceContext = { tp: formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags) }
    const state = sc.traceState?.serialize()
    if (state) tc.tpState = state
    if (withBaggage) {
      const b = api.propagation.getBaggage(ctx)
      const text = b === undefined ? '' : formatBaggage(b.getAllEntries().map(([key, e]) => ({ key, value: e.value, metadata: e.metadata?.toString() })))
      if (text !== '') tc.baggage = text
    }
    return tc
  } catch {
    // A context manager or propagator that throws must not cost the record.
    return undefined
  }
}

// ------------------------------------------------------------------------------ replay

export type TraceParentMode = 'link' | 'child'

/** What a process span reads from an item: a local envelope or a central entry. */
export interface TracedItem {
  attempt: number
  id?: string
  tp?: unknown
  tpState?: unknown
  baggage?: unknown
  /** Central entries: the host that shipped it. */
  host?: unknown
  /** How often the item was redriven from the permanent state, when it records that. */
  redrives?: unknown
}

/** Per item: the log's name (the span's destination), and where the item is, for warnings. */
export interface SpanNaming<I> {
  destination(item: I): string
  where(item: I): string
}

// OpenTelemetry semantic conventions for messaging (v1.27+), copied rather than imported from
// the incubating package, whose exports change between releases.
const MESSAGING_SYSTEM = 'messaging.system'
const MESSAGING_OPERATION_TYPE = 'messaging.operation.type'
const MESSAGING_OPERATION_NAME = 'messaging.operation.name'
const MESSAGING_DESTINATION_NAME = 'messaging.destination.name'
const MESSAGING_MESSAGE_ID = 'messaging.message.id'
const ERROR_TYPE = 'error.type'
const ERROR_TYPE_OTHER = '_OTHER'

/** Malformed contexts reported one by one per run; the rest are counted (flush). */
const WARN_EACH = 10

/**
 * One replay run's process spans. `call` makes one handler call the way both engines make
 * it — bounded by `handlerTimeout` — inside a span that ends when the engine learns the
 * outcome (a timed-out call's span ends at the timeout, with an error status).
 */
export class ProcessSpans<I extends TracedItem> {
  private warned = 0

  private constructor(
    private readonly api: Api,
    private readonly tracer: Otel.Tracer,
    private readonly mode: TraceParentMode,
    private readonly naming: SpanNaming<I>,
    private readonly warn: (message: string) => void,
  ) {}

  /** Undefined (no spans, no cost) when `@opentelemetry/api` is not installed or no SDK is registered. */
  static async start<I extends TracedItem>(mode: TraceParentMode, naming: SpanNaming<I>, warn: (message: string) => void): Promise<ProcessSpans<I> | undefined> {
    const api = await loadTraceApi()
    if (api === undefined || !sdkRegistered(api)) return undefined
    return new ProcessSpans(api, api.trace.getTracer('dletter'), mode, naming, warn)
  }

  call(handler: (payload: never, item: I) => unknown, payload: unknown, item: I, timeout: number | undefined): unknown {
    const h = handler as (payload: unknown, item: I) => unknown
    let begun: [Otel.Span, Otel.Context] | undefined
    try {
      begun = this.begin(item)
    } catch {}
    if (begun === undefined) return boundedCall(h(payload, item), timeout)
    const [span, ctx] = begun
    let r: unknown
    try {
      r = this.api.context.with(ctx, h, undefined, payload, item)
    } catch (err) {
      this.end(span, true, err)
      throw err
    }
    if (!isThenable(r)) {
      this.end(span, false, undefined)
      return r
    }
    return Promise.resolve(boundedCall(r, timeout)).then(
      (v) => {
        this.end(span, false, undefined)
        return v
      },
      (err: unknown) => {
        this.end(span, true, err)
        throw err
      },
    )
  }

  /** Reports how many malformed contexts went unreported one by one (at the end of a run). */
  flush(): void {
    if (this.warned > WARN_EACH) this.warn(`${this.warned - WARN_EACH} more items' malformed trace contexts were ignored`)
    this.warned = 0
  }

  private begin(item: I): [Otel.Span, Otel.Context] {
    const api = this.api
    let parent = api.context.active()
    let links: Otel.Link[] | undefined
    if (item.tp !== undefined) {
      const p = parseTraceparent(item.tp)
      if (typeof p === 'string') this.malformed(item, p)
      else {
        const sc: Otel.SpanContext = { traceId: p.traceId, spanId: p.spanId, traceFlags: p.traceFlags, isRemote: true }
        if (typeof item.tpState === 'string') sc.traceState = api.createTraceState(item.tpState)
        else if (item.tpState !== undefined) this.malformed(item, '"tpState" is not a string')
        if (this.mode === 'child') parent = api.trace.setSpanContext(parent, sc)
        else links = [{ context: sc }]
      }
    }
    if (item.baggage !== undefined) {
      const b = parseBaggage(item.baggage)
      if (typeof b === 'string') this.malformed(item, b)
      else if (b.length > 0) {
        const entries: Record<string, Otel.BaggageEntry> = {}
        for (const e of b) entries[e.key] = e.metadata === undefined ? { value: e.value } : { value: e.value, metadata: api.baggageEntryMetadataFromString(e.metadata) }
        parent = api.propagation.setBaggage(parent, api.propagation.createBaggage(entries))
      }
    }
    const destination = this.naming.destination(item)
    const attributes: Otel.Attributes = {
      [MESSAGING_SYSTEM]: 'dletter',
      [MESSAGING_OPERATION_TYPE]: 'process',
      [MESSAGING_OPERATION_NAME]: 'process',
      [MESSAGING_DESTINATION_NAME]: destination,
      'dletter.attempt': item.attempt,
    }
    if (typeof item.id === 'string') attributes[MESSAGING_MESSAGE_ID] = item.id
    if (typeof item.redrives === 'number') attributes['dletter.redrives'] = item.redrives
    if (typeof item.host === 'string') attributes['dletter.host'] = item.host
    const span = this.tracer.startSpan(`process ${destination}`, { kind: api.SpanKind.CONSUMER, attributes, ...(links ? { links } : {}) }, parent)
    return [span, api.trace.setSpan(parent, span)]
  }

  private end(span: Otel.Span, failed: boolean, err: unknown): void {
    if (failed) {
      try {
        this.failed(span, err)
      } catch {}
    }
    try {
      span.end()
    } catch {}
  }

  private failed(span: Otel.Span, err: unknown): void {
    // Read through describeReason only: what a handler throws may be hostile (a throwing
    // getter, a Proxy), and the SDK's own recordException would read it unguarded.
    const r = describeReason(err)
    let isError = false
    try {
      isError = err instanceof Error
    } catch {}
    span.setAttribute(ERROR_TYPE, r.errorCode ?? r.errorName ?? (isError ? 'Error' : ERROR_TYPE_OTHER))
    span.recordException({ name: r.errorName ?? 'Error', message: r.text ?? '', ...(r.errorCode !== undefined ? { code: r.errorCode } : {}) })
    span.setStatus({ code: this.api.SpanStatusCode.ERROR, ...(r.text !== null ? { message: r.text } : {}) })
  }

  private malformed(item: I, why: string): void {
    if (++this.warned <= WARN_EACH) this.warn(`ignored the malformed trace context of ${this.naming.where(item)}: ${why}`)
  }
}

/**
 * One handler call as both replay engines make it: bounded by `timeout`, inside a process
 * span when the run traces.
 */
export function callHandler<I extends TracedItem>(
  spans: ProcessSpans<I> | undefined,
  handler: (payload: never, item: I) => unknown,
  payload: unknown,
  item: I,
  timeout: number | undefined,
): unknown {
  if (spans !== undefined) return spans.call(handler, payload, item, timeout)
  return boundedCall((handler as (payload: unknown, item: I) => unknown)(payload, item), timeout)
}

/**
 * Export what the registered SDK still holds, for a process about to exit (the CLI ends with
 * process.exit, which would drop the spans a BatchSpanProcessor has queued). Waits at most
 * `ms`; a failing or missing SDK is ignored. Loads nothing: a process that never traced has
 * nothing to flush.
 */
export async function flushTraces(ms = 5000): Promise<void> {
  const api = loading === undefined ? undefined : await loading
  if (api === undefined) return
  let timer: NodeJS.Timeout | undefined
  try {
    let p: unknown = api.trace.getTracerProvider()
    if (p instanceof api.ProxyTracerProvider) p = p.getDelegate()
    const flush = (p as { forceFlush?: () => Promise<void> }).forceFlush
    if (typeof flush !== 'function') return
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms)
    })
    await Promise.race([flush.call(p), timeout])
  } catch {
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Whether a tracer provider was registered. The API's global provider is a proxy until an
 * SDK registers one; without one every span would be a no-op that still costs its allocations.
 */
function sdkRegistered(api: Api): boolean {
  try {
    const p = api.trace.getTracerProvider()
    return !(p instanceof api.ProxyTracerProvider) || p.getDelegateTracer('dletter') !== undefined
  } catch {
    return false
  }
}
