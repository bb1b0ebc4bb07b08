/**
 * `GET /api/logs/<key>/export?<filter>`: every entry matching the listing's filter, oldest
 * first, as NDJSON — one entry per line in the shape `inspect --json` prints a central entry
 * (format/entry.ts: entryJson), with its origin (host and log) written down, since the entry
 * leaves its log here. A read: no --allow-writes needed, the token guards it as it guards the
 * listing.
 *
 * Memory stays one chunk plus the library's read-ahead, whatever the count: entries are read
 * only as the client takes them (while the socket's write() has returned false, no entry is
 * read until it drains), and a client that goes away ends the read (the library's iterator is
 * returned, which stops its file reader or its paging). An error after the first line ends the
 * response without its final chunk, so a client sees an incomplete download, never a short
 * file that looks whole.
 *
 * Each export reports on the diagnostics channel `dletter:serve:export` when it waits for the
 * client and when it ends (ExportEvent): what a test or an operator can watch without a hook.
 */
import diagnostics_channel from 'node:diagnostics_channel'
import type { ServerResponse } from 'node:http'
import os from 'node:os'
import type { Hono } from 'hono'
import { entryJson, leavingLog } from '../format/entry.js'
import type { Entry, InspectIterable, Kind } from '../format/model.js'
import { queryOf } from './api.js'
import type { ServeContext } from './context.js'
import { parseFilterParams, toSourceFilter } from './query.js'
import type { Source } from './backend-source.js'

export const EXPORT_CHANNEL = 'dletter:serve:export'

export interface ExportEvent {
  source: string
  kind: Kind
  /** 'wait': the client is behind (the socket asked to drain) and no entry is read meanwhile; 'end': the export is over and its read has stopped. */
  event: 'wait' | 'end'
  /** Entries the library has yielded so far. */
  entries: number
  /** With 'end': null when every matching entry was sent; 'client' when the client went away first; 'error' when the read failed. */
  stopped?: 'client' | 'error' | null
}

const channel = diagnostics_channel.channel(EXPORT_CHANNEL)
/** Lines are sent in chunks of about this many characters. */
const CHUNK_CHARS = 64 * 1024
const HOST = os.hostname()

export function exportRoutes(app: Hono, ctx: ServeContext): void {
  app.get('/api/logs/:key/export', async (c) => {
    const source = ctx.source(c.req.param('key'))
    const filter = toSourceFilter(parseFilterParams(queryOf(c)), Date.now())
    const listing = source.entries(filter, c.req.raw.signal)
    const it = listing[Symbol.asyncIterator]()
    // The first entry before the headers: a bad option or a missing log is still an error response.
    const first = await it.next()
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
    const encode = (e: Entry) => entryJson(leavingLog(e, { host: e.host ?? HOST, log: e.logName ?? source.label })) + '\n'
    const body = ndjson({ source, kind: filter.kind, listing, it, first, encode, outgoing, signal: c.req.raw.signal })
    return c.body(body, 200, {
      'Content-Type': 'application/x-ndjson; charset=utf-8',
      'Content-Disposition': `attachment; filename="${source.key}-${filter.kind}.ndjson"`,
    })
  })
}

interface Run {
  source: Source
  kind: Kind
  listing: InspectIterable
  it: AsyncIterator<Entry>
  first: IteratorResult<Entry>
  encode: (e: Entry) => string
  outgoing: ServerResponse | undefined
  signal: AbortSignal
}

function ndjson(r: Run): ReadableStream<Uint8Array> {
  const utf8 = new TextEncoder()
  let next: IteratorResult<Entry> | undefined = r.first
  let cancelled = false
  let ended = false
  const report = (event: ExportEvent['event'], stopped?: ExportEvent['stopped']) => {
    if (channel.hasSubscribers) channel.publish({ source: r.source.key, kind: r.kind, event, entries: r.listing.summary.entries, ...(event === 'end' ? { stopped } : {}) } satisfies ExportEvent)
  }
  const end = (stopped: ExportEvent['stopped']) => {
    if (ended) return
    ended = true
    report('end', stopped)
  }
  // highWaterMark 1: one chunk is made ahead while the last is written; the next waits for the socket.
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (r.outgoing?.writableNeedDrain) {
          report('wait')
          await drained(r.outgoing)
        }
        let chunk = ''
        while (!cancelled && chunk.length < CHUNK_CHARS) {
          const step = next ?? (await r.it.next())
          next = undefined
          if (step.done) {
            if (cancelled) return
            if (chunk !== '') controller.enqueue(utf8.encode(chunk))
            controller.close()
            end(null)
            return
          }
          chunk += r.encode(step.value)
        }
        if (!cancelled) controller.enqueue(utf8.encode(chunk))
      } catch (err) {
        if (cancelled || r.signal.aborted) return end('client')
        end('error')
        controller.error(err)
      }
    },
    async cancel() {
      cancelled = true
      try {
        await r.it.return?.()
      } finally {
        end('client')
      }
    },
  })
}

/** Resolves once `out` drains or closes (a client gone never drains). */
function drained(out: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done)
      out.off('close', done)
      resolve()
    }
    out.on('drain', done)
    out.on('close', done)
  })
}
