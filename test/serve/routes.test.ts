/**
 * Every route of `dletter serve`, over HTTP against a real log: the pages, the JSON API,
 * /metrics and the static files.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { buildLog, get, serve } from './helpers.js'

describe('dletter serve: routes', () => {
  it('overview page and /api/overview show the counts of each log', async () => {
    const a = buildLog(tmpDir(), 'orders')
    const b = buildLog(tmpDir(), 'mails')
    const s = await serve({ logs: [a.log, b.log] })
    expect(s.sources.map((x) => x.key)).toEqual(['orders', 'mails'])
    const page = await get(s, '/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(page.text).toContain('data-source="orders"')
    expect(page.text).toContain('data-source="mails"')
    const o = (await get(s, '/api/overview')).json()
    expect(o.allowWrites).toBe(false)
    const orders = o.sources.find((x: any) => x.key === 'orders')
    expect(orders.label).toBe(a.log)
    expect(orders.counts).toMatchObject({ pending: 3, due: 2, deferred: 1, permanent: 6, corrupt: 2 })
    expect(orders.oldestPendingAgeMs).toBeGreaterThan(0)
    expect((await get(s, '/api/logs/orders/counts')).json()).toMatchObject({ pending: 3, permanent: 6, corrupt: 2 })
    expect((await get(s, '/api/sources')).json()).toEqual([
      { key: 'orders', label: a.log, kind: 'log', hasHosts: false },
      { key: 'mails', label: b.log, kind: 'log', hasHosts: false },
    ])
  })

  it('the overview gains the top reason groups once the background scan has run', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log] })
    let o: any
    // The first request starts the scan; poll until it has finished (each poll is a request).
    for (let i = 0; i < 500; i++) {
      o = (await get(s, '/api/overview')).json()
      if (o.sources[0].reasons) break
      await new Promise((r) => setTimeout(r, 10))
    }
    const perm = o.sources[0].reasons.permanent
    expect(perm[0]).toMatchObject({ fingerprint: 'timeout after <n>ms', count: 3 })
    expect(new URLSearchParams(perm[0].query).get('reason')).toBe('^\\s*timeout\\s+after\\s+\\d+(?:\\.\\d+)?ms\\s*$')
    const page = await get(s, '/')
    expect(page.text).toContain('timeout after &lt;n&gt;ms')
  })

  it('/metrics has the five series per log in the Prometheus text format', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log] })
    const r = await get(s, '/metrics')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const label = `log="${a.log}"`
    expect(r.text).toContain(`dletter_pending_items{${label}} 3`)
    expect(r.text).toContain(`dletter_due_items{${label}} 2`)
    expect(r.text).toContain(`dletter_permanent_items{${label}} 6`)
    expect(r.text).toContain(`dletter_corrupt_records{${label}} 2`)
    expect(r.text).toMatch(new RegExp(`dletter_oldest_pending_age_seconds\\{log="[^"]+"\\} (\\d+(\\.\\d+)?)`))
    expect(r.text).toContain(`dletter_source_up{${label}} 1`)
    expect(r.text).toContain('# TYPE dletter_pending_items gauge')
  })

  it('entries page and API: filter, order, paging, groups', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log] })
    const all = (await get(s, '/api/logs/orders/entries?log=permanent&order=oldest')).json()
    expect(all.entries.map((e: any) => e.id)).toEqual(['p0', 'p3', 'p1', 'p4', 'p2', '<b id=x>bold</b>'])
    const newest = (await get(s, '/api/logs/orders/entries?log=permanent&size=2')).json()
    expect(newest.entries.map((e: any) => e.id)).toEqual(['<b id=x>bold</b>', 'p2'])
    expect(newest.more).toBe(true)
    const p3 = (await get(s, '/api/logs/orders/entries?log=permanent&size=2&page=3')).json()
    expect(p3.entries.map((e: any) => e.id)).toEqual(['p3', 'p0'])
    expect(p3.more).toBe(false)
    const byText = (await get(s, '/api/logs/orders/entries?log=permanent&reason=ECONNREFUSED')).json()
    expect(byText.entries.map((e: any) => e.id).sort()).toEqual(['p3', 'p4'])
    const byRe = (await get(s, `/api/logs/orders/entries?log=permanent&re=1&reason=${encodeURIComponent('^timeout after \\d{4}ms$')}`)).json()
    expect(byRe.entries.map((e: any) => e.id).sort()).toEqual(['p0', 'p1'])
    const byPayload = (await get(s, '/api/logs/orders/entries?log=permanent&payload=%22order%22%3A5')).json()
    expect(byPayload.entries.map((e: any) => e.id)).toEqual(['p4'])
    const byId = (await get(s, '/api/logs/orders/entries?log=permanent&id=p1')).json()
    expect(byId.entries.map((e: any) => e.id)).toEqual(['p1'])
    const retry = (await get(s, '/api/logs/orders/entries?log=retry&attempt=1&since=1h')).json()
    expect(retry.entries).toHaveLength(3)
    expect(retry.entries[0]).toMatchObject({ kind: 'retry', file: 'orders.000000000001.log', attempt: 1 })
    const none = (await get(s, '/api/logs/orders/entries?log=permanent&until=2000-01-01')).json()
    expect(none.entries).toEqual([])
    const corrupt = (await get(s, '/api/logs/orders/entries?log=corrupt')).json()
    expect(corrupt.entries).toHaveLength(2)
    expect(corrupt.entries[0].reason).toContain('invalid JSON')

    const groups = (await get(s, '/api/logs/orders/groups?log=permanent')).json()
    expect(groups.matched).toBe(6)
    expect(groups.groups[0]).toMatchObject({ fingerprint: 'timeout after <n>ms', count: 3 })
    expect(groups.groups.find((g: any) => g.fingerprint.startsWith('connect ECONNREFUSED'))).toMatchObject({ count: 2 })
    const g0 = groups.groups[0]
    expect(g0.oldestTs).toBeLessThan(g0.newestTs)
    // A group's link selects exactly that group.
    const viaLink = (await get(s, `/api/logs/orders/entries?${g0.query}`)).json()
    expect(viaLink.entries.map((e: any) => e.id).sort()).toEqual(['p0', 'p1', 'p2'])

    const page = await get(s, '/logs/orders/entries?log=permanent&reason=timeout')
    expect(page.status).toBe(200)
    expect(page.text).toContain('data-src="/api/logs/orders/groups?kind=permanent&amp;reason=timeout"')
    expect(page.text.match(/<tr>\s*<td>/g)).toHaveLength(3)
    // Read-only: no action panel.
    expect(page.text).not.toContain('id="actions"')
    expect(page.text).toContain('--allow-writes')
    expect((await get(s, '/logs/orders')).headers.get('location')).toBe('/logs/orders/entries?kind=permanent')
  })

  it('entry page, entry API and the raw text of a value', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log] })
    const [e] = (await get(s, '/api/logs/orders/entries?log=permanent&id=p1')).json().entries
    expect(e.ref).toBe(`permanent/permanent-orders.000000000001.log/${e.offset}`)
    const full = (await get(s, `/api/logs/orders/entry?ref=${encodeURIComponent(e.ref)}`)).json()
    expect(full).toMatchObject({ id: 'p1', attempt: 5, reason: 'timeout after 3400ms', payload: { order: 2 }, final: 'exhausted', fingerprint: 'timeout after <n>ms' })
    expect(full.file).toBe(path.join(a.dir, 'permanent-orders.000000000001.log'))
    expect(full.line).toBe(a.timeouts[1])
    const page = await get(s, `/logs/orders/entry?ref=${encodeURIComponent(e.ref)}`)
    expect(page.status).toBe(200)
    expect(page.text).toContain('timeout after 3400ms')
    expect(page.text).toContain(`&quot;order&quot;: 2`)
    expect(page.text).toContain(full.file)
    expect(page.text).toContain(`<th>byte offset</th><td>${e.offset}</td>`)
    const raw = await get(s, `/logs/orders/entry/raw?ref=${encodeURIComponent(e.ref)}&part=line`)
    expect(raw.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(raw.headers.get('content-security-policy')).toContain('sandbox')
    expect(raw.text).toBe(a.timeouts[1])
    expect((await get(s, `/logs/orders/entry/raw?ref=${encodeURIComponent(e.ref)}&part=payload`)).text).toBe('{\n  "order": 2\n}')
    expect((await get(s, `/logs/orders/entry/raw?ref=${encodeURIComponent(e.ref)}&part=reason`)).text).toBe('timeout after 3400ms')
    // A corrupt record's page shows the quarantined bytes and where they came from.
    const [c] = (await get(s, '/api/logs/orders/entries?log=corrupt&order=oldest')).json().entries
    const cp = await get(s, `/logs/orders/entry?ref=${encodeURIComponent(c.ref)}`)
    expect(cp.status).toBe(200)
    expect(cp.text).toContain('{&quot;broken 1')
    expect(cp.text).toContain('orders.000000000000.log @ 100')
    // A retry entry.
    const [r] = (await get(s, '/api/logs/orders/entries?log=retry&id=q2')).json().entries
    const rp = await get(s, `/logs/orders/entry?ref=${encodeURIComponent(r.ref)}`)
    expect(rp.text).toContain('next attempt due')
  })

  it('static files: the script and the stylesheet, revalidated by ETag', async () => {
    const s = await serve({ logs: [buildLog(tmpDir()).log] })
    const js = await get(s, '/static/app.js')
    expect(js.status).toBe(200)
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(js.text).toContain("'use strict'")
    expect(js.text).not.toContain('innerHTML')
    const again = await get(s, '/static/app.js', { 'if-none-match': js.headers.get('etag')! })
    expect(again.status).toBe(304)
    expect((await get(s, '/static/app.css')).headers.get('content-type')).toMatch(/^text\/css/)
    expect((await get(s, '/static/nope.js')).status).toBe(404)
    expect((await get(s, '/static/constructor')).status).toBe(404)
  })

  it('unknown paths are 404 (JSON under /api/, a page for browsers)', async () => {
    const s = await serve({ logs: [buildLog(tmpDir()).log] })
    const api = await get(s, '/api/nope')
    expect(api.status).toBe(404)
    expect(api.json()).toMatchObject({ status: 404, code: 'DLQ_NOT_FOUND' })
    const page = await get(s, '/nope', { accept: 'text/html' })
    expect(page.status).toBe(404)
    expect(page.text).toContain('<h1>Not found</h1>')
    expect((await get(s, '/logs/orders/whatever', { accept: 'text/html' })).status).toBe(404)
    // HEAD answers like GET, without a body; other methods on a page are 404, never a change.
    const head = await fetch(s.url + '/', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    expect((await fetch(s.url + '/api/overview', { method: 'DELETE', headers: { origin: s.url } })).status).toBe(404)
    expect((await fetch(s.url + '/api/overview', { method: 'PUT', headers: { origin: s.url, 'content-type': 'application/json' }, body: '{}' })).status).toBe(404)
  })
})
