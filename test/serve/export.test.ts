/**
 * Export over a local log: the listing's filter as NDJSON, each matching entry exactly once,
 * each line the entry the library's inspect() yields (its stored `line` left out) with its
 * origin written down; a download (attachment, no-store), linked from the listing with the
 * filter, open to a read-only server and guarded by the token like every read.
 */
import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { inspect } from '../../src/index.js'
import type { Entry } from '../../src/format/model.js'
import { tmpDir } from '../helpers/tmp.js'
import { buildLog, get, serve } from './helpers.js'

const TOKEN = 'export-token-0123456789'

function lines(text: string): any[] {
  expect(text.endsWith('\n')).toBe(true)
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l))
}

async function listed(log: string, o: Parameters<typeof inspect>[1]): Promise<Entry[]> {
  const out: Entry[] = []
  for await (const e of inspect(log, o)) out.push(e)
  return out
}

/** An entry as the export should print it: its fields without the stored line, plus where it was written. */
function expected(e: Entry, log: string): unknown {
  const { line: _line, ...fields } = e
  return JSON.parse(JSON.stringify({ ...fields, origin: { ...e.origin, host: os.hostname(), log } }))
}

describe('GET /api/logs/<key>/export (local log)', () => {
  it('sends every matching entry once, as inspect() yields it, with its origin', async () => {
    const b = buildLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    const label = s.sources[0]!.label
    for (const kind of ['retry', 'permanent', 'corrupt'] as const) {
      const r = await get(s, `/api/logs/orders/export?kind=${kind}`)
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8')
      expect(r.headers.get('content-disposition')).toBe(`attachment; filename="orders-${kind}.ndjson"`)
      expect(r.headers.get('cache-control')).toBe('no-store')
      const want = (await listed(b.log, { kind })).map((e) => expected(e, label))
      expect(want.length).toBeGreaterThan(0)
      expect(lines(r.text)).toEqual(want)
    }
    // Lineage and trace fields go with the entry: nothing is dropped on the way out.
    const perm = lines((await get(s, '/api/logs/orders/export?kind=permanent')).text)
    expect(perm.map((e) => e.id)).toEqual(['p0', 'p3', 'p1', 'p4', 'p2', '<b id=x>bold</b>'])
    expect(perm[0]).toMatchObject({ kind: 'permanent', attempt: 5, final: 'exhausted', firstTs: expect.any(Number), payload: { order: 1 }, origin: { host: os.hostname(), log: label } })
  })

  it('applies the listing filter: reason (text and regex), attempt, time, id', async () => {
    const b = buildLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    const ids = async (q: string) => lines((await get(s, `/api/logs/orders/export?${q}`)).text).map((e) => e.id)
    expect(await ids('kind=permanent&reason=timeout')).toEqual(['p0', 'p1', 'p2'])
    expect(await ids('kind=permanent&reason=ECONN.*5432&re=1')).toEqual(['p3', 'p4'])
    expect(await ids('kind=retry&id=q1')).toEqual(['q1'])
    expect(await ids('kind=permanent&since=7m')).toEqual(['p4', '<b id=x>bold</b>'])
    // Page parameters do not cut an export: it is every match.
    expect(await ids('kind=permanent&size=1&page=2&order=newest')).toHaveLength(6)
    const none = await get(s, '/api/logs/orders/export?kind=permanent&reason=nothing-like-this')
    expect(none.status).toBe(200)
    expect(none.text).toBe('')
  })

  it('refuses bad input before sending anything', async () => {
    const b = buildLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    for (const [q, field] of [
      ['kind=bogus', 'kind'],
      ['kind=permanent&host=web-1', 'host'],
      ['kind=permanent&reason=(&re=1', 'reason'],
      ['kind=permanent&since=yesterday', 'since'],
    ]) {
      const r = await get(s, `/api/logs/orders/export?${q}`)
      expect(r.status, q).toBe(400)
      expect(r.json().error).toContain(field)
    }
    expect((await get(s, '/api/logs/nope/export?kind=retry')).status).toBe(404)
  })

  it('is linked from the listing with its filter', async () => {
    const b = buildLog(tmpDir())
    const s = await serve({ logs: [b.log] })
    const page = await get(s, '/logs/orders/entries?kind=permanent&reason=timeout&order=oldest&size=20', { accept: 'text/html' })
    const m = /<a href="([^"]*\/export\?[^"]*)" download>Export NDJSON<\/a>/.exec(page.text)
    expect(m).not.toBeNull()
    const href = m![1]!.replaceAll('&amp;', '&')
    expect(href).toBe('/api/logs/orders/export?kind=permanent&reason=timeout')
    expect(lines((await get(s, href)).text).map((e) => e.id)).toEqual(['p0', 'p1', 'p2'])
  })

  it('is a read: allowed without --allow-writes, refused without the token', async () => {
    const b = buildLog(tmpDir())
    const s = await serve({ logs: [b.log], token: TOKEN })
    const denied = await get(s, '/api/logs/orders/export?kind=permanent')
    expect(denied.status).toBe(401)
    expect(denied.text).not.toContain('p0')
    const ok = await get(s, '/api/logs/orders/export?kind=permanent', { authorization: `Bearer ${TOKEN}` })
    expect(ok.status).toBe(200)
    expect(lines(ok.text)).toHaveLength(6)
  })
})
