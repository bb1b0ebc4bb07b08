/**
 * Logged in one process, replayed by `dletter replay` in another (the real CLI, forked): the
 * handler module sets up the OpenTelemetry SDK at its top level, and the process spans of that
 * run link to the span that was active in this process when the items were logged.
 */
import fs from 'node:fs'
import path from 'node:path'
import { SpanKind } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import { type SimpleSpan, handlerModuleSource, logInSpan, useTracing } from './helpers/otel.js'
import { tmpDir } from './helpers/tmp.js'
import { runCli } from './fixtures/cli-util.js'

const otel = useTracing()

async function logged(dir: string, n: number): Promise<{ log: string; traceId: string; spanId: string }> {
  const log = path.join(dir, 'orders.log')
  return { log, ...(await logInSpan(otel.tracer, log, n)) }
}

async function replayByCli(dir: string, log: string, flags: string[]): Promise<SimpleSpan[]> {
  const handler = path.join(dir, 'handler.mjs')
  fs.writeFileSync(handler, handlerModuleSource())
  const env = { SPANS: path.join(dir, 'spans.jsonl'), CALLS: path.join(dir, 'calls.txt') }
  const r = await runCli(['replay', log, '--handler', handler, '--json', ...flags], { env })
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expect(JSON.parse(r.stdout)).toMatchObject({ delivered: 3 })
  expect(fs.readFileSync(env.CALLS, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['0', '1', '2'])
  return fs
    .readFileSync(env.SPANS, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SimpleSpan)
}

describe('dletter replay in another process', () => {
  it('its process spans link to the span active when the items were logged', async () => {
    const dir = tmpDir()
    const { log, traceId, spanId } = await logged(dir, 3)
    const spans = await replayByCli(dir, log, [])
    expect(spans.map((s) => s.attributes['messaging.message.id']).sort()).toEqual(['item-0', 'item-1', 'item-2'])
    for (const s of spans) {
      expect(s).toMatchObject({ name: `process ${path.resolve(log)}`, kind: SpanKind.CONSUMER, links: [{ traceId, spanId }] })
      expect(s.traceId).not.toBe(traceId)
    }
  })

  it("--trace-parent child continues the original trace", async () => {
    const dir = tmpDir()
    const { log, traceId, spanId } = await logged(dir, 3)
    const spans = await replayByCli(dir, log, ['--trace-parent', 'child'])
    expect(spans).toHaveLength(3)
    for (const s of spans) expect(s).toMatchObject({ traceId, parentSpanId: spanId, links: [] })
  })
})
