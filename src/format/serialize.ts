/**
 * Payload serialization, four ways, chosen per call:
 *  1. a `Loggable` writes itself into the writer's reusable buffer (no intermediate string);
 *  2. with the `schema` option, fast-json-stringify compiled once per logger;
 *  3. anything else through JSON.stringify;
 *  4. `RawPayload` carries JSON that is already serialized (replay re-logs with it).
 */
import type fastJsonType from 'fast-json-stringify'
import { DeadLetterError } from '../base/errors.js'
import { ByteSink, needsEscape } from './sink.js'

/** Builds one JSON value in place. Commas between members are inserted for you. */
export interface JsonOut {
  beginObject(): JsonOut
  endObject(): JsonOut
  beginArray(): JsonOut
  endArray(): JsonOut
  key(name: string): JsonOut
  string(value: string): JsonOut
  /** Throws for NaN and ±Infinity, which JSON cannot represent. */
  number(value: number): JsonOut
  boolean(value: boolean): JsonOut
  null(): JsonOut
  /** An already-serialized JSON value, copied verbatim; it must not contain raw newlines. */
  raw(json: string): JsonOut
  /** `key(name)` then the value by its type; objects go through JSON.stringify. */
  field(name: string, value: unknown): JsonOut
}

/** A payload that serializes itself into the dead-letter buffer without allocating. */
export interface Loggable {
  toDeadLetter(out: JsonOut): void
}

export function isLoggable(v: unknown): v is Loggable {
  return v !== null && typeof v === 'object' && typeof (v as Loggable).toDeadLetter === 'function'
}

/** Wraps a payload that is already a JSON text, so it is written as is instead of re-encoded. */
export class RawPayload {
  readonly json: string

  /**
   * Validates the text once (it must be exactly one JSON value). Pretty-printed JSON is
   * compacted, since a raw newline would split the record across two lines.
   */
  constructor(json: string) {
    if (typeof json !== 'string') {
      throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: RawPayload expects a JSON string, got ${typeof json}`)
    }
    let value: unknown
    try {
      value = JSON.parse(json)
    } catch (err) {
      throw new DeadLetterError('DLQ_SERIALIZE', `dlq: RawPayload is not valid JSON: ${(err as Error).message}`, {
        cause: err,
      })
    }
    this.json = /[\n\r]/.test(json) ? JSON.stringify(value) : json
  }

  /** For text we produced ourselves (already one compact JSON value): skips validation. */
  static trusted(json: string): RawPayload {
    const r = Object.create(RawPayload.prototype) as { json: string }
    r.json = json
    return r as RawPayload
  }
}

const MAX_DEPTH = 256

class JsonOutImpl implements JsonOut {
  sink!: ByteSink
  // needComma[d] = 1 when the container at depth d already has a member.
  private readonly needComma = new Uint8Array(MAX_DEPTH)
  // inObject[d] = 1 when the container at depth d is an object (members need a key first).
  // A misused JsonOut would otherwise write a line that no replay can parse.
  private readonly inObject = new Uint8Array(MAX_DEPTH)
  private depth = 0
  private afterKey = false

  reset(sink: ByteSink): void {
    this.sink = sink
    this.depth = 0
    this.afterKey = false
    this.needComma[0] = 0
    this.inObject[0] = 0
  }

  private sep(): void {
    if (this.afterKey) {
      this.afterKey = false
      return
    }
    if (this.inObject[this.depth] === 1) throw new Error('a value inside an object needs key() first')
    if (this.needComma[this.depth] === 1) {
      if (this.depth === 0) throw new Error('toDeadLetter() wrote more than one top-level value')
      this.sink.byte(0x2c)
    } else this.needComma[this.depth] = 1
  }

  beginObject(): JsonOut {
    return this.open(0x7b, 1)
  }
  private open(bracket: number, object: 0 | 1): JsonOut {
    this.sep()
    this.sink.byte(bracket)
    if (++this.depth >= MAX_DEPTH) throw new Error('payload nested too deeply')
    this.needComma[this.depth] = 0
    this.inObject[this.depth] = object
    return this
  }
  endObject(): JsonOut {
    if (this.depth === 0 || this.inObject[this.depth] !== 1 || this.afterKey) {
      throw new Error('endObject() does not close an open object (or a key has no value)')
    }
    this.sink.byte(0x7d)
    this.depth--
    return this
  }
  beginArray(): JsonOut {
    return this.open(0x5b, 0)
  }
  endArray(): JsonOut {
    if (this.depth === 0 || this.inObject[this.depth] !== 0) throw new Error('endArray() does not close an open array')
    this.sink.byte(0x5d)
    this.depth--
    return this
  }
  key(name: string): JsonOut {
    if (this.inObject[this.depth] !== 1 || this.afterKey) throw new Error('key() is only valid inside an object, before a value')
    if (this.needComma[this.depth] === 1) this.sink.byte(0x2c)
    else this.needComma[this.depth] = 1
    this.sink.jsonString(name)
    this.sink.byte(0x3a)
    this.afterKey = true
    return this
  }
  string(value: string): JsonOut {
    this.sep()
    this.sink.jsonString(value)
    return this
  }
  number(value: number): JsonOut {
    if (!Number.isFinite(value)) throw new TypeError(`cannot serialize ${value} as JSON`)
    this.sep()
    this.sink.number(value)
    return this
  }
  boolean(value: boolean): JsonOut {
    this.sep()
    this.sink.ascii(value ? 'true' : 'false')
    return this
  }
  null(): JsonOut {
    this.sep()
    this.sink.ascii('null')
    return this
  }
  raw(json: string): JsonOut {
    if (json.includes('\n') || json.includes('\r')) throw new Error('raw() JSON must not contain a line break')
    this.sep()
    this.sink.utf8(json)
    return this
  }
  field(name: string, value: unknown): JsonOut {
    this.key(name)
    switch (typeof value) {
      case 'string':
        return this.string(value)
      case 'number':
        return this.number(value)
      case 'boolean':
        return this.boolean(value)
      default:
        if (value === null || value === undefined) return this.null()
        // JSON.stringify never emits a raw line break: skip raw()'s check.
        this.sep()
        this.sink.utf8(stringifyOrThrow(value))
        return this
    }
  }

  /** True when every container opened was closed: a Loggable that forgets endObject is a bug. */
  balanced(): boolean {
    return this.depth === 0 && !this.afterKey
  }

  /** False when toDeadLetter() wrote nothing, which would leave `"payload":}` on disk. */
  wroteValue(): boolean {
    return this.needComma[0] === 1
  }
}

function stringifyOrThrow(value: unknown): string {
  const s = JSON.stringify(value)
  // JSON.stringify returns undefined for functions/symbols/undefined: record null, like it
  // does inside arrays, so the line stays valid JSON.
  return s === undefined ? 'null' : s
}

export type SchemaStringify = (payload: unknown) => string

// fast-json-stringify brings ajv along, ~11 MB of RSS at import that a logger without a
// `schema` never needs, so Logger.open() loads it (a plain dynamic import, which bundlers
// follow) only when a schema is given.
let fastJson: typeof fastJsonType | undefined

export async function loadSchemaCompiler(): Promise<void> {
  fastJson ??= (await import('fast-json-stringify')).default
}

/** Needs loadSchemaCompiler() to have resolved first. */
export function compileSchema(schema: object): SchemaStringify {
  try {
    if (fastJson === undefined) throw new Error('the schema compiler is not loaded yet (loadSchemaCompiler)')
    return fastJson(schema as Parameters<typeof fastJsonType>[0]) as SchemaStringify
  } catch (err) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: option \`schema\` could not be compiled: ${(err as Error).message}`, {
      cause: err,
    })
  }
}

/**
 * Serializes payloads into a sink. One per logger: the JsonOut state object and the compiled
 * schema are reused for every call.
 */
export class PayloadSerializer {
  private readonly out = new JsonOutImpl()
  private readonly schema: SchemaStringify | undefined

  constructor(schema: SchemaStringify | undefined) {
    this.schema = schema
  }

  /** Appends the payload's JSON to the sink. Throws DLQ_SERIALIZE; the caller rolls back the sink. */
  write(sink: ByteSink, payload: unknown): void {
    try {
      if (payload instanceof RawPayload) {
        sink.utf8(payload.json)
      } else if (isLoggable(payload)) {
        const out = this.out
        out.reset(sink)
        payload.toDeadLetter(out)
        if (!out.balanced()) throw new Error('toDeadLetter() left an object or array open')
        if (!out.wroteValue()) throw new Error('toDeadLetter() wrote no value')
      } else if (this.schema !== undefined) {
        sink.utf8(this.schema(payload))
      } else if (typeof payload === 'string' && !needsEscape(payload)) {
        sink.jsonString(payload)
      } else {
        sink.utf8(stringifyOrThrow(payload))
      }
    } catch (err) {
      if (err instanceof DeadLetterError) throw err
      throw new DeadLetterError('DLQ_SERIALIZE', `dlq: payload could not be serialized: ${(err as Error)?.message ?? err}`, {
        cause: err,
      })
    }
  }
}
