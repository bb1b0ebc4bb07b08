/**
 * Options of `startServer` (and `dletter serve`), validated once with the option's name in
 * the message. The defaults keep the inspector private: loopback only, read-only.
 */
import net from 'node:net'
import { type Check, bool, int, resolveOptions, str, strings } from '../base/checks.js'
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

export type ResolvedServeOptions = Required<Omit<ServeOptions, 'db' | 'token'>> & Pick<ServeOptions, 'db' | 'token'>

/** Short tokens can be guessed over the network; 16 characters of `openssl rand -hex 8` and up cannot. */
export const MIN_TOKEN_LENGTH = 16

const db: Check<string | PGliteLike> = (name, v) => {
  if (typeof v === 'string' ? v.trim() === '' : typeof (v as { query?: unknown })?.query !== 'function') {
    throw invalidOption(name, 'a PostgreSQL connection string or a PGlite instance', v)
  }
  return v as string | PGliteLike
}

const token: Check<string> = (name, v) => {
  // Printable ASCII only: it travels in an HTTP header and a cookie.
  if (typeof v !== 'string' || !/^[\x21-\x7e]+$/.test(v)) throw invalidOption(name, 'printable ASCII without spaces', '(hidden)')
  if (v.length < MIN_TOKEN_LENGTH) throw invalidOption(name, `at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 16)`, '(hidden)')
  return v
}

const defaults: ResolvedServeOptions = { logs: [], db: undefined, port: 8080, host: '127.0.0.1', allowWrites: false, token: undefined }

export function resolveServeOptions(input: ServeOptions): ResolvedServeOptions {
  const o = resolveOptions('startServer', input, defaults, { logs: strings, db, port: int(0, 65535), host: str, allowWrites: bool, token })
  if (o.logs.length === 0 && o.db === undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', 'dlq: nothing to serve: give at least one log path (option `logs`) or `db`')
  }
  // [::1] is how a URL spells an IPv6 address; listen() wants it bare.
  const bracketed = /^\[(.*)\]$/.exec(o.host)
  if (bracketed && net.isIPv6(bracketed[1])) o.host = bracketed[1]
  if (!isLoopback(o.host) && o.token === undefined) {
    throw new DeadLetterError(
      'DLQ_INVALID_OPTION',
      `dlq: option \`host\` ${JSON.stringify(o.host)} is reachable from other machines: also give option \`token\` (or bind 127.0.0.1)`,
    )
  }
  return o
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
