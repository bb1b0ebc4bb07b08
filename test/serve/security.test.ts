/**
 * The rules that keep the inspector safe: hostile stored text stays inert, a strict CSP,
 * the token (bearer or login cookie), cross-origin writes refused, Host checked on
 * loopback, GETs change nothing.
 */
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { XSS_REASON, buildLog, contents, get, post, serve } from './helpers.js'

const TOKEN = 'test-token-0123456789abcdef'

describe('dletter serve: security', () => {
  it('escapes hostile ids, reasons and payloads, and makes control characters visible', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const list = await get(s, '/logs/orders/entries?log=permanent')
    for (const text of [list.text]) {
      expect(text).not.toContain('<script>window')
      expect(text).not.toContain('<img src=x')
      expect(text).not.toContain('<b id=x>')
      expect(text).toContain('&lt;b id=x&gt;bold&lt;/b&gt;')
      expect(text).toContain('&lt;script&gt;window.__xss=3&lt;/script&gt;')
      expect(text).not.toContain('\u001b')
      expect(text).toContain('\u241b[31mred')
      expect(text).not.toContain('\u202e')
      expect(text).toContain('\\u202eevil')
    }
    const api = (await get(s, '/api/logs/orders/entries?log=permanent&id=' + encodeURIComponent('<b id=x>bold</b>'))).json()
    expect(api.entries[0].reason).toBe(XSS_REASON)
    const entry = await get(s, `/logs/orders/entry?ref=${encodeURIComponent(api.entries[0].ref)}`)
    expect(entry.text).not.toContain('<img src=x')
    expect(entry.text).toContain('&lt;img src=x onerror=\\&quot;window.__xss=1\\&quot;&gt;')
    // The id travels into the action panel's data attribute, escaped.
    expect(entry.text).toContain('data-filter="{&quot;kind&quot;:&quot;permanent&quot;,&quot;id&quot;:&quot;&lt;b id=x&gt;bold&lt;/b&gt;&quot;}"')
  })

  it('cuts long values with a link to see all', async () => {
    const dir = tmpDir()
    const a = buildLog(dir)
    const big = 'x'.repeat(600_000)
    const { envLine, writeLines } = await import('../fixtures/cli-util.js')
    writeLines(`${dir}/permanent-orders.log`, [envLine({ ts: Date.now(), attempt: 1, reason: 'r'.repeat(20_000), id: 'big', payload: { big } })])
    const s = await serve({ logs: [a.log] })
    const list = await get(s, '/logs/orders/entries?log=permanent&id=big')
    expect(list.text.length).toBeLessThan(50_000)
    expect(list.text).toMatch(/… 599,\d{3} more<\/a>/)
    const [e] = (await get(s, '/api/logs/orders/entries?log=permanent&id=big')).json().entries
    expect(e.payloadOmitted).toBeGreaterThan(599_000)
    const page = await get(s, `/logs/orders/entry?ref=${encodeURIComponent(e.ref)}`)
    expect(page.text.length).toBeLessThan(400_000)
    expect(page.text).toContain('more characters: <a href="/logs/orders/entry/raw?ref=')
    const raw = await get(s, `/logs/orders/entry/raw?ref=${encodeURIComponent(e.ref)}&part=payload`)
    expect(JSON.parse(raw.text).big).toBe(big)
  })

  it('sends a strict CSP and the other protective headers on every response', async () => {
    const s = await serve({ logs: [buildLog(tmpDir()).log] })
    for (const p of ['/', '/logs/orders/entries?log=permanent', '/api/overview', '/nope', '/metrics']) {
      const r = await get(s, p)
      const csp = r.headers.get('content-security-policy')!
      expect(csp).toContain("default-src 'none'")
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toContain('unsafe-inline')
      expect(csp).toContain("frame-ancestors 'none'")
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
      expect(r.headers.get('cache-control')).toBe('no-store')
    }
    // No inline script or style anywhere in a page.
    const page = (await get(s, '/logs/orders/entries?log=permanent')).text
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)/)
    expect(page).not.toMatch(/\sstyle=/)
    expect(page).not.toMatch(/<[a-z][^>]*\son[a-z]+=/i)
  })

  it('GET requests never change the log', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const before = contents(a.dir)
    const [e] = (await get(s, '/api/logs/orders/entries?log=permanent')).json().entries
    for (const p of [
      '/',
      '/api/overview',
      '/metrics',
      '/logs/orders/entries?log=permanent',
      '/logs/orders/entries?log=corrupt',
      '/api/logs/orders/groups?log=permanent',
      `/logs/orders/entry?ref=${encodeURIComponent(e.ref)}`,
      '/api/logs/orders/requeue',
      '/api/logs/orders/purge?log=permanent',
    ]) {
      const r = await get(s, p)
      expect(r.status, p).toBeLessThan(500)
    }
    expect((await get(s, '/api/logs/orders/requeue')).status).toBe(404)
    expect(contents(a.dir)).toEqual(before)
  })

  describe('token', () => {
    it('refuses a non-loopback host without a token, and a short token', async () => {
      const log = buildLog(tmpDir()).log
      await expect(serve({ logs: [log], host: '0.0.0.0' })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('token') })
      await expect(serve({ logs: [log], token: 'short' })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('16 characters') })
    })

    it('every request needs the token: bearer header for the API and /metrics, login for pages', async () => {
      const a = buildLog(tmpDir())
      const s = await serve({ logs: [a.log], token: TOKEN, allowWrites: true })
      const api = await get(s, '/api/overview')
      expect(api.status).toBe(401)
      expect(api.headers.get('www-authenticate')).toBe('Bearer realm="dletter"')
      expect((await get(s, '/metrics')).status).toBe(401)
      expect((await get(s, '/api/overview', { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401)
      expect((await get(s, '/api/overview', { authorization: `Bearer ${TOKEN}` })).status).toBe(200)
      expect((await get(s, '/metrics', { authorization: `bearer ${TOKEN}` })).status).toBe(200)
      expect((await post(s, '/api/logs/orders/requeue', { log: 'permanent' })).status).toBe(401)
      const page = await get(s, '/logs/orders/entries?log=permanent')
      expect(page.status).toBe(303)
      expect(page.headers.get('location')).toBe('/login?next=%2Flogs%2Forders%2Fentries%3Flog%3Dpermanent')
      // Static files and the login form are open (they hold no data).
      expect((await get(s, '/static/app.css')).status).toBe(200)
      expect((await get(s, '/login')).text).toContain('name="token"')
    })

    it('the login form sets an HttpOnly SameSite=Strict cookie that is not the token', async () => {
      const s = await serve({ logs: [buildLog(tmpDir()).log], token: TOKEN })
      const form = (token: string, next: string, origin = s.url) =>
        fetch(s.url + '/login', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
          body: new URLSearchParams({ token, next }).toString(),
          redirect: 'manual',
        })
      const bad = await form('wrong-token-0123456789', '/')
      expect(bad.status).toBe(401)
      expect(bad.headers.get('set-cookie')).toBeNull()
      expect(await bad.text()).toContain('not the one')
      const ok = await form(TOKEN, '/logs/orders/entries?log=corrupt')
      expect(ok.status).toBe(303)
      expect(ok.headers.get('location')).toBe('/logs/orders/entries?log=corrupt')
      const cookie = ok.headers.get('set-cookie')!
      expect(cookie).toMatch(/^dletter_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/)
      expect(cookie).not.toContain(TOKEN)
      const session = cookie.split(';')[0]
      expect((await get(s, '/', { cookie: session })).status).toBe(200)
      expect((await get(s, '/api/overview', { cookie: session })).status).toBe(200)
      expect((await get(s, '/', { cookie: 'dletter_session=forged' })).status).toBe(303)
      // An open redirect through `next` is not possible.
      for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
        expect((await form(TOKEN, next)).headers.get('location')).toBe('/')
      }
      // A login form posted from another site is refused.
      expect((await form(TOKEN, '/', 'http://evil.example')).status).toBe(403)
      // Logging out clears the cookie.
      const out = await fetch(s.url + '/logout', { method: 'POST', headers: { origin: s.url, cookie: session }, redirect: 'manual' })
      expect(out.status).toBe(303)
      expect(out.headers.get('set-cookie')).toMatch(/^dletter_session=; Max-Age=0/)
    })
  })

  describe('cross-origin writes', () => {
    it('refuses a write from another origin, a cross-site fetch, and a non-JSON body', async () => {
      const a = buildLog(tmpDir())
      const s = await serve({ logs: [a.log], allowWrites: true })
      const before = contents(a.dir)
      const body = { log: 'permanent', dryRun: false }
      const evil = await post(s, '/api/logs/orders/requeue', body, { origin: 'http://evil.example' })
      expect(evil.status).toBe(403)
      expect(evil.json()).toMatchObject({ code: 'DLQ_CSRF' })
      expect((await post(s, '/api/logs/orders/requeue', body, { origin: 'null' })).status).toBe(403)
      expect((await post(s, '/api/logs/orders/requeue', body, { 'sec-fetch-site': 'cross-site' })).status).toBe(403)
      expect((await post(s, '/api/logs/orders/requeue', body, { 'sec-fetch-site': 'same-site' })).status).toBe(403)
      // A form or text/plain post (what a cross-site page can send without a preflight).
      for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
        const r = await post(s, '/api/logs/orders/requeue', JSON.stringify(body), { 'content-type': type, origin: '' })
        expect(r.status, type).toBe(415)
      }
      expect(contents(a.dir)).toEqual(before)
    })

    it('on loopback without a token, a Host header naming another site is refused (DNS rebinding)', async () => {
      const s = await serve({ logs: [buildLog(tmpDir()).log] })
      const http = await import('node:http')
      const status = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: s.port, path: '/api/overview', headers: { host } }, (res) => {
            res.resume()
            resolve(res.statusCode!)
          })
          req.on('error', reject)
          req.end()
        })
      expect(await status(`evil.example:${s.port}`)).toBe(421)
      expect(await status(`127.0.0.1:${s.port}`)).toBe(200)
      expect(await status(`localhost:${s.port}`)).toBe(200)
      expect(await status(`LOCALHOST:${s.port}`)).toBe(200)
      expect(await status('127.0.0.1:1')).toBe(421)
    })
  })
})
