/**
 * startServer: the web inspector and /metrics over local logs (and the central store), on
 * one port. Resolves once the port accepts connections; close() stops accepting, aborts
 * running requeue/purge jobs (they roll back the segment in progress) and waits for them.
 */
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { createAdaptorServer } from '@hono/node-server'
import { DeadLetterError, ioError } from '../base/errors.js'
import { stats } from '../index.js'
import { createApp } from './app.js'
import { Limiter } from './cache.js'
import { ServeContext } from './context.js'
import { localSource, storeSource } from './backend-source.js'
import { type ServeOptions, isLoopback, resolveServeOptions } from './options.js'
import type { Source } from './backend-source.js'

export type { ServeOptions } from './options.js'

export interface RunningServer {
  /** http://host:port, with the port actually bound. */
  url: string
  host: string
  port: number
  /** The sources served, by key (`/logs/<key>/…`). */
  sources: ReadonlyArray<{ key: string; label: string; kind: 'log' | 'store' }>
  close(): Promise<void>
}

/** Scans (listings, groups, reason summaries) running at once, whatever the number of requests. */
const SCANS_AT_ONCE = 2

function keyFor(file: string, taken: Set<string>): string {
  const base = path.basename(file, path.extname(file)).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '').slice(0, 60) || 'log'
  let key = base
  for (let i = 2; taken.has(key); i++) key = `${base}-${i}`
  taken.add(key)
  return key
}

async function localSources(logs: string[], scans: Limiter, taken: Set<string>): Promise<Source[]> {
  const out: Source[] = []
  for (const log of logs) {
    // The library's one path rule (a missing directory is DLQ_NOT_FOUND), and the first counts.
    const { backend } = await stats(log, { fast: true })
    const file = backend.type === 'local' ? backend.path : path.resolve(log)
    out.push(localSource(keyFor(file, taken), file, scans))
  }
  return out
}

/** A host as a URL names it: an IPv6 address in brackets. */
const urlHost = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host)

function hostHeaderSet(host: string, port: number): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', urlHost(host)].map((h) => h.toLowerCase()))
  const out = new Set<string>()
  for (const n of names) {
    out.add(`${n}:${port}`)
    if (port === 80) out.add(n)
  }
  return out
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const o = resolveServeOptions(options)
  const scans = new Limiter(SCANS_AT_ONCE)
  const taken = new Set<string>()
  const sources = await localSources(o.logs, scans, taken)
  if (o.db !== undefined) {
    sources.push(await storeSource(o.db, keyFor('central', taken), scans))
  }
  const ctx = new ServeContext(sources, o.allowWrites, o.token)
  let port = o.port
  // Without a token the server is loopback-only, and then the Host header must name it.
  const allowed = o.token === undefined && isLoopback(o.host) ? () => hostHeaderSet(o.host, port) : () => undefined
  const app = createApp(ctx, { allowedHosts: allowed })
  const server = createAdaptorServer({ fetch: app.fetch, hostname: o.host, port: o.port }) as Server
  try {
    // Rejects with the 'error' the server emits instead of 'listening'.
    await once(server.listen(o.port, o.host), 'listening')
  } catch (err) {
    await ctx.close()
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE') throw new DeadLetterError('DLQ_IO', `dlq: port ${o.port} on ${o.host} is in use (try --port 0 for a free one)`, { cause: err })
    throw ioError(`listen on ${o.host}:${o.port}`, err)
  }
  port = (server.address() as AddressInfo).port
  let closing: Promise<void> | undefined
  return {
    url: `http://${urlHost(o.host)}:${port}`,
    host: o.host,
    port,
    sources: sources.map((s) => ({ key: s.key, label: s.label, kind: s.kind })),
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        // Idle keep-alive connections would hold close() open; requests in flight finish.
        server.closeIdleConnections()
        await ctx.close()
        server.closeAllConnections()
        await closed
      })()),
  }
}
