/**
 * Shared by the serve tests: a log with known content (retry, permanent, corrupt, hostile
 * text), a running server on a free loopback port closed after each test, and fetch helpers.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach } from 'vitest'
import { type RunningServer, type ServeOptions, startServer } from '../../src/serve/server.js'
import { envLine, type startCli, writeLines } from '../fixtures/cli-util.js'

export const XSS_PAYLOAD = { html: '<img src=x onerror="window.__xss=1">', script: '<script>window.__xss=2</script>' }
export const XSS_REASON = '<script>window.__xss=3</script> failed \u001b[31mred\u001b[0m \u202eevil'

export interface BuiltLog {
  dir: string
  log: string
  /** Permanent-log entries whose reason is "timeout after <n>ms". */
  timeouts: string[]
}

/**
 * Retry: 3 pending (2 due, 1 deferred). Permanent: 3 "timeout after Nms", 2 "ECONNREFUSED",
 * 1 hostile (sealed segment + active file). Corrupt: 2 quarantine records.
 */
export function buildLog(dir: string, name = 'orders'): BuiltLog {
  const now = Date.now()
  const log = path.join(dir, `${name}.log`)
  const perm = (i: number, reason: string, payload: unknown, id: string | undefined = `p${i}`) =>
    envLine({ ts: now - 60_000 * (10 - i), attempt: 5, reason, ...(id === undefined ? {} : { id }), firstTs: now - 3_600_000, final: 'exhausted', payload })
  const timeouts = [perm(0, 'timeout after 1200ms', { order: 1 }), perm(1, 'timeout after 3400ms', { order: 2 }), perm(2, 'timeout after 5ms', { order: 3 })]
  writeLines(path.join(dir, `permanent-${name}.000000000001.log`), [timeouts[0], perm(3, 'connect ECONNREFUSED 10.0.0.1:5432', { order: 4 }), timeouts[1]], {
    mtime: now - 120_000,
  })
  writeLines(path.join(dir, `permanent-${name}.log`), [
    perm(4, 'connect ECONNREFUSED 10.0.0.2:5432', { order: 5 }),
    timeouts[2],
    perm(6, XSS_REASON, XSS_PAYLOAD, '<b id=x>bold</b>'),
  ])
  const retry = (i: number, dueTs: number | undefined) =>
    envLine({ ts: now - 1000 * (10 - i), attempt: 1, reason: `http 503 try ${i}`, id: `q${i}`, ...(dueTs === undefined ? {} : { dueTs }), payload: { n: i } })
  writeLines(path.join(dir, `${name}.000000000001.log`), [retry(0, undefined), retry(1, now - 1000), retry(2, now + 3_600_000)], { mtime: now - 60_000 })
  const corrupt = (i: number) =>
    JSON.stringify({ ts: now - 1000 * i, segment: `${name}.000000000000.log`, offset: 100 * i, length: 12, error: 'invalid JSON: Unexpected token', rawEncoding: 'utf8', raw: `{"broken ${i}`, rawTruncated: false })
  writeLines(path.join(dir, `corrupt-${name}.log`), [corrupt(1), corrupt(2)])
  return { dir, log, timeouts }
}

const running: RunningServer[] = []

afterEach(async () => {
  for (const s of running.splice(0)) await s.close()
})

export async function serve(o: ServeOptions): Promise<RunningServer> {
  const s = await startServer({ port: 0, ...o })
  running.push(s)
  return s
}

export interface Res {
  status: number
  headers: Headers
  text: string
  json: () => any
}

export async function get(s: { url: string }, p: string, headers: Record<string, string> = {}): Promise<Res> {
  const r = await fetch(s.url + p, { headers, redirect: 'manual' })
  const text = await r.text()
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) }
}

export async function post(s: { url: string }, p: string, body: unknown, headers: Record<string, string> = {}): Promise<Res> {
  // An empty value leaves the header out.
  const h = Object.fromEntries(Object.entries({ 'content-type': 'application/json', origin: s.url, ...headers }).filter(([, v]) => v !== ''))
  const r = await fetch(s.url + p, {
    method: 'POST',
    headers: h,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  })
  const text = await r.text()
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) }
}

/** Polls a job until it has finished (no fixed sleeps: each poll is a request). */
export async function waitJob(s: { url: string }, id: string, headers: Record<string, string> = {}): Promise<any> {
  for (let i = 0; i < 2000; i++) {
    const j = (await get(s, `/api/jobs/${id}`, headers)).json()
    if (j.state !== 'running') return j
    await new Promise((r) => setImmediate(r))
  }
  throw new Error('job did not finish')
}

/** Every file's name and bytes: equal before and after means nothing was changed. */
export function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of fs.readdirSync(dir).sort()) {
    const f = path.join(dir, n)
    // Count caches (segment metadata sidecars) may appear on a read; the log itself must not change.
    if (fs.statSync(f).isFile() && !n.endsWith('.meta') && !n.startsWith('.')) out[n] = fs.readFileSync(f, 'utf8')
  }
  return out
}

/** Resolves with the URL once a `dletter serve` process prints its listening line. */
export function listening(cli: ReturnType<typeof startCli>): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    cli.child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))\n/.exec(out)
      if (m) resolve(m[1])
    })
    cli.done.then((r) => reject(new Error(`exited before listening: ${JSON.stringify(r)}`)))
  })
}
