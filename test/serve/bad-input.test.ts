/** Bad input gets a clear 4xx (JSON for the API, a page for browsers), never a crash or a 500. */
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { buildLog, get, post, serve } from './helpers.js'

describe('dletter serve: bad input', () => {
  it('API: bad regex, bad numbers, too-deep pages, unknown log, bad refs', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const cases: Array<[string, number, RegExp]> = [
      ['/api/logs/orders/entries?log=permanent&re=1&reason=(unclosed', 400, /reason: not a valid regular expression/],
      ['/api/logs/orders/groups?log=permanent&re=1&reason=*', 400, /reason: not a valid regular expression/],
      ['/api/logs/orders/entries?log=permanent&page=999999999', 400, /too deep.*narrow the filter.*order=oldest/],
      ['/api/logs/orders/entries?log=permanent&page=99999999999999999999', 400, /page: expected a whole number/],
      ['/api/logs/orders/entries?log=permanent&page=0', 400, /page: expected a whole number from 1/],
      ['/api/logs/orders/entries?log=permanent&page=-1', 400, /page/],
      ['/api/logs/orders/entries?log=permanent&size=100000', 400, /size: expected a whole number from 1 to 200/],
      ['/api/logs/orders/entries?log=permanent&attempt=x', 400, /attempt/],
      ['/api/logs/orders/entries?log=permanent&order=random', 400, /order: expected newest or oldest/],
      ['/api/logs/orders/entries?log=secret', 400, /log: expected retry, permanent or corrupt/],
      ['/api/logs/orders/entries?log=permanent&since=yesterday', 400, /since: expected a duration/],
      ['/api/logs/orders/entries?log=permanent&since=1h&until=2h', 400, /since must be before until/],
      ['/api/logs/orders/entries?log=corrupt&id=x', 400, /corrupt-log records have no id/],
      [`/api/logs/orders/entries?log=permanent&reason=${'x'.repeat(501)}`, 400, /at most 500 characters/],
      ['/api/logs/nope/entries', 404, /no log "nope" here; the logs served are: orders/],
      ['/api/logs/nope/counts', 404, /no log/],
      ['/api/logs/orders/entry?ref=garbage', 400, /ref: expected/],
      ['/api/logs/orders/entry?ref=permanent/..%2F..%2Fetc%2Fpasswd/0', 400, /ref: expected/],
      ['/api/logs/orders/entry?ref=permanent/passwd/0', 404, /no entry at that position/],
      ['/api/logs/orders/entry?ref=permanent/orders.000000000001.log/0', 404, /no entry/],
      ['/api/logs/orders/entry?ref=permanent/permanent-orders.log/3', 404, /no entry/],
      ['/api/logs/orders/entry?ref=permanent/permanent-orders.log/99999999', 404, /no entry/],
      ['/api/jobs/nope', 404, /no such job/],
    ]
    for (const [p, status, msg] of cases) {
      const r = await get(s, p)
      expect(r.status, p).toBe(status)
      const body = r.json()
      expect(body.error, p).toMatch(msg)
      expect(body.status).toBe(status)
    }
  })

  it('pages: the filter form stays, with the error above it', async () => {
    const s = await serve({ logs: [buildLog(tmpDir()).log] })
    const r = await get(s, '/logs/orders/entries?log=permanent&re=1&reason=(unclosed', { accept: 'text/html' })
    expect(r.status).toBe(400)
    expect(r.headers.get('content-type')).toMatch(/^text\/html/)
    expect(r.text).toContain('role="alert">reason: not a valid regular expression')
    expect(r.text).toContain('value="(unclosed"')
    const deep = await get(s, '/logs/orders/entries?log=permanent&page=100000', { accept: 'text/html' })
    expect(deep.status).toBe(400)
    expect(deep.text).toContain('too deep')
    const unknown = await get(s, '/logs/nope/entries', { accept: 'text/html' })
    expect(unknown.status).toBe(404)
    expect(unknown.text).toContain('no log &quot;nope&quot; here')
    const ref = await get(s, '/logs/orders/entry?ref=..%2F..', { accept: 'text/html' })
    expect(ref.status).toBe(400)
    expect((await get(s, '/logs/orders/entry/raw?ref=x&part=other')).status).toBe(400)
  })

  it('action bodies: not JSON, not an object, unknown fields, wrong log, read-only', async () => {
    const a = buildLog(tmpDir())
    const rw = await serve({ logs: [a.log], allowWrites: true })
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['requeue', '{not json', 400, /not valid JSON/],
      ['requeue', '[1,2]', 400, /must be a JSON object/],
      ['requeue', { log: 'permanent', nope: 1 }, 400, /unknown field "nope"/],
      ['requeue', { log: 'retry' }, 400, /use kind=permanent/],
      ['requeue', { log: 'permanent', dryRun: 'yes' }, 400, /dryRun: expected true or false/],
      ['requeue', { log: 'permanent', ids: [] }, 400, /ids: expected 1 to 1000/],
      ['requeue', { log: 'permanent', ids: ['a'], id: 'b' }, 400, /either id .* or ids/],
      ['requeue', { log: 'permanent', re: true, reason: '(' }, 400, /not a valid regular expression/],
      ['purge', { log: 'retry' }, 400, /retry log is never purged/],
      ['purge', { log: 'permanent', attempt: -1 }, 400, /attempt/],
    ]
    for (const [op, body, status, msg] of cases) {
      const r = await post(rw, `/api/logs/orders/${op}`, body)
      expect(r.status, JSON.stringify(body)).toBe(status)
      expect(r.json().error).toMatch(msg)
    }
    expect((await post(rw, '/api/logs/orders/requeue', 'x'.repeat(300 * 1024))).status).toBe(413)
    const ro = await serve({ logs: [a.log] })
    const r = await post(ro, '/api/logs/orders/requeue', { log: 'permanent' })
    expect(r.status).toBe(403)
    expect(r.json()).toMatchObject({ code: 'DLQ_READ_ONLY', error: expect.stringContaining('--allow-writes') })
  })
})
