/** Option validation of startServer: names the option, rejects unknown ones, keeps the defaults private. */
import { describe, expect, it } from 'vitest'
import { isLoopback, resolveServeOptions } from '../../src/serve/options.js'

describe('serve options', () => {
  it('defaults: loopback, port 8080, read-only, no token', () => {
    expect(resolveServeOptions({ logs: ['/x/a.log'] })).toEqual({ logs: ['/x/a.log'], db: undefined, port: 8080, host: '127.0.0.1', allowWrites: false, token: undefined })
  })

  it('rejects bad values naming the option', () => {
    const bad: Array<[object, RegExp]> = [
      [{ logs: ['/x/a.log'], nope: 1 }, /unknown startServer\(\) option `nope` \(known: allowWrites, db, host, logs, port, token\)/],
      [{}, /nothing to serve/],
      [{ logs: [''] }, /`logs`/],
      [{ logs: ['/x/a.log'], port: 70000 }, /`port`/],
      [{ logs: ['/x/a.log'], port: 1.5 }, /`port`/],
      [{ logs: ['/x/a.log'], allowWrites: 'yes' }, /`allowWrites`/],
      [{ logs: ['/x/a.log'], token: 'has space in it 0123456' }, /`token` must be printable ASCII/],
      [{ logs: ['/x/a.log'], token: 'short' }, /at least 16/],
      [{ logs: ['/x/a.log'], host: '0.0.0.0' }, /reachable from other machines/],
      [{ logs: ['/x/a.log'], host: '::' }, /reachable from other machines/],
      [{ logs: ['/x/a.log'], host: '192.168.1.10' }, /reachable from other machines/],
      [{ db: '' }, /`db` must be a PostgreSQL connection string or a PGlite instance/],
      [{ db: 42 }, /`db`/],
      [{ db: {} }, /`db`/],
    ]
    for (const [o, msg] of bad) expect(() => resolveServeOptions(o as never), JSON.stringify(o)).toThrow(msg)
    expect(resolveServeOptions({ logs: ['/x/a.log'], host: '0.0.0.0', token: 'x'.repeat(16) }).host).toBe('0.0.0.0')
  })

  it('knows loopback addresses in every spelling', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true)
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '::ffff:10.0.0.1', 'localhost.evil.example']) expect(isLoopback(h), h).toBe(false)
  })
})
