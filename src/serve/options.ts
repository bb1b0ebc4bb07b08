/**
 * Options of `startServer` (and `dletter serve`), validated once with the option's name in
 * the message. The defaults keep the inspector private: loopback only, read-only.
 */
import net from 'node:net'
import { DeadLetterError, invalidOption } from '../base/errors.js'
import type { PGliteLike } from '../postgres/index.js'

export interface ServeOptions {
  /** Local log paths (the path given to Logger.open), one source each. */
  logs?: string[]
  /** The central store (one more source): a PostgreSQL connection string, or a PGlite instance (embedded demo, tests). */
  db?: string | PGliteLike
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number
  /** Address to bind. Default 127.0.0.1; anything but loopback requires `token`. */
  host?: string
  /** Enables requeue and purge. Default false (read-only). */
  allowWrites?: boolean
  /** Every request must carry it (bearer header, or the cookie the login form sets). */
  token?: string
}

export interface ResolvedServeOptions {
  logs: string[]
  db: string | PGliteLike | undefined
  port: number
  host: string
  allowWrites: boolean
  token: string | undefined
}

const KNOWN = new Set(['logs', 'db', 'port', 'host', 'allowWrites', 'token'])
/** Short tokens can be guessed over the network; 16 characters of `openssl rand -hex 8` and up cannot. */
export const MIN_TOKEN_LENGTH = 16

export function resolveServeOptions(o: ServeOptions): ResolvedServeOptions {
  if (o === null || typeof o !== 'object') throw invalidOption('options', 'an object', o)
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: unknown option \`${k}\``)
  }
  const logs = o.logs ?? []
  if (!Array.isArray(logs) || logs.some((l) => typeof l !== 'string' || l.trim() === '')) {
    throw invalidOption('logs', 'an array of log paths', logs)
  }
  if (o.db !== undefined && (typeof o.db === 'string' ? o.db.trim() === '' : typeof (o.db as { query?: unknown })?.query !== 'function')) {
    throw invalidOption('db', 'a PostgreSQL connection string or a PGlite instance', o.db)
  }
  if (logs.length === 0 && o.db === undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', 'dlq: nothing to serve: give at least one log path (option `logs`) or `db`')
  }
  const port = o.port ?? 8080
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidOption('port', 'an integer from 0 to 65535', port)
  const given = o.host ?? '127.0.0.1'
  if (typeof given !== 'string' || given.trim() === '') throw invalidOption('host', 'a host name or IP address', given)
  // [::1] is how a URL spells an IPv6 address; listen() wants it bare.
  const bracketed = /^\[(.*)\]$/.exec(given)
  const host = bracketed && net.isIPv6(bracketed[1]) ? bracketed[1] : given
  if (o.allowWrites !== undefined && typeof o.allowWrites !== 'boolean') throw invalidOption('allowWrites', 'a boolean', o.allowWrites)
  const token = o.token
  if (token !== undefined) {
    // Printable ASCII only: it travels in an HTTP header and a cookie.
    if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) throw invalidOption('token', 'printable ASCII without spaces', token === undefined ? token : '(hidden)')
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: option \`token\` must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 16)`)
    }
  }
  if (!isLoopback(host) && token === undefined) {
    throw new DeadLetterError(
      'DLQ_INVALID_OPTION',
      `dlq: option \`host\` ${JSON.stringify(host)} is reachable from other machines: also give option \`token\` (or bind 127.0.0.1)`,
    )
  }
  return { logs: [...logs], db: o.db, port, host, allowWrites: o.allowWrites === true, token }
}

/**
 * Loopback: 127.0.0.0/8 in any spelling the system resolver accepts (127.1, 0x7f.1,
 * 2130706433), ::1 (also as ::ffff:127.x), with or without brackets, and the name localhost.
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (h === 'localhost') return true
  // 127.0.0.1. is a DNS name to the resolver, not an address: it could lead anywhere.
  if (h.endsWith('.')) return false
  // The URL parser writes an address in its one canonical form, as getaddrinfo reads it:
  // 127.1 → 127.0.0.1, 0:0:…:1 → [::1]. A name stays a name (and is not loopback).
  let canon: string
  try {
    canon = new URL(`http://${net.isIPv6(h) ? `[${h}]` : h}/`).hostname
  } catch {
    return false
  }
  if (net.isIPv4(canon)) return canon.startsWith('127.')
  return canon === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:/.test(canon)
}
