/**
 * One rule book for options (src/base/checks.ts): every entry point that takes options —
 * Logger.open, replay, startReplayer, the admin functions, logCounts, PostgresStore (connect,
 * ship, startShipper, replay, requeue, purge, prune), startServer and the CLI's flags — gives
 * the same bad value the same code and the same message, caps every duration that drives a
 * timer at 2^31−1 ms, and lists the known keys when it rejects an unknown one.
 */
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DeadLetterError, Logger, inspect, purge, replay, requeue, stats } from '../src/index.js'
import { parseDuration, parseSize } from '../src/base/checks.js'
import { PostgresStore } from '../src/postgres/index.js'
import { startServer } from '../src/serve/server.js'
import { logCounts } from '../src/store/counts/log-counts.js'
import { runCli } from './fixtures/cli-util.js'
import { tmpDir } from './helpers/tmp.js'
import { usePGliteStore } from './postgres/setup.js'

type Call = (options: unknown) => unknown

const pg = usePGliteStore('rules')

let dir: string
let log: string
let dlq: Logger
beforeEach(async () => {
  dir = tmpDir()
  log = path.join(dir, 'orders.log')
  const w = await Logger.open(log)
  await w.log({ n: 1 }, 'boom')
  await w.logPermanent({ n: 2 }, 'bad')
  await w.close()
  dlq = await Logger.open(path.join(dir, 'live.log'))
})
afterEach(async () => {
  await dlq.close()
})

const noop = (): void => {}
const isObject = (o: unknown): o is object => o !== null && typeof o === 'object' && !Array.isArray(o)
async function drain(it: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of it);
}

/** Each entry point by the name its messages use, called on a log that exists. */
const entries: Record<string, Call> = {
  'Logger.open': (o) => Logger.open(path.join(dir, 'new.log'), o as never),
  replay: (o) => replay(log, noop, o as never),
  startReplayer: (o) => dlq.startReplayer(noop, o as never),
  stats: (o) => stats(log, o as never),
  inspect: (o) => drain(inspect(log, o as never)),
  requeue: (o) => requeue(log, o as never),
  purge: (o) => purge(log, (isObject(o) ? { kind: 'permanent', ...o } : o) as never),
  logCounts: (o) => logCounts(log, o as never),
  'PostgresStore.connect': (o) => PostgresStore.connect(pg.db, o as never),
  'store.ship': (o) => pg.store.ship(log, o as never),
  'store.startShipper': (o) => pg.store.startShipper(log, o as never),
  'store.replay': (o) => pg.store.replay(noop, o as never),
  'store.requeue': (o) => pg.store.requeue(o as never),
  'store.purge': (o) => pg.store.purge((isObject(o) ? { kind: 'permanent', ...o } : o) as never),
  'store.prune': (o) => pg.store.prune((isObject(o) ? { olderThan: '30d', ...o } : o) as never),
  startServer: (o) => startServer((isObject(o) ? { logs: [log], port: 0, ...o } : o) as never),
}

/** The rejection of a call that must fail (thrown or rejected); a success is cleaned up and fails the test. */
async function rejection(name: string, options: unknown): Promise<DeadLetterError> {
  let value: unknown
  try {
    value = await entries[name](options)
  } catch (err) {
    expect(err, name).toBeInstanceOf(DeadLetterError)
    return err as DeadLetterError
  }
  if (typeof value === 'function') await (value as () => Promise<void>)()
  else await (value as { close?: () => Promise<void> } | undefined)?.close?.()
  throw new Error(`${name}(${JSON.stringify(options)}) did not reject`)
}

/** `options` given to each of `names`: one code, one message. */
async function sameRejection(names: string[], options: Record<string, unknown>): Promise<string> {
  const messages = new Map<string, string>()
  for (const name of names) {
    const err = await rejection(name, options)
    expect(err.code, `${name} ${JSON.stringify(options)}`).toBe('DLQ_INVALID_OPTION')
    messages.set(name, err.message)
  }
  const [first] = messages.values()
  for (const [name, message] of messages) expect(message, name).toBe(first)
  return first
}

describe('unknown keys and non-objects', () => {
  it('every entry point names itself and lists its known keys, sorted', async () => {
    for (const name of Object.keys(entries)) {
      const err = await rejection(name, { bogus: 1 })
      expect(err.code, name).toBe('DLQ_INVALID_OPTION')
      const m = /^dlq: unknown (\S+)\(\) option `bogus` \(known: (.+)\)$/.exec(err.message)
      expect(m, `${name}: ${err.message}`).not.toBeNull()
      expect(m![1]).toBe(name)
      const known = m![2].split(', ')
      expect(known.length, name).toBeGreaterThan(0)
      expect([...known].sort(), name).toEqual(known)
    }
  })

  it('the known keys are the options each takes', async () => {
    const known = async (name: string) => /\(known: (.+)\)$/.exec((await rejection(name, { bogus: 1 })).message)![1].split(', ')
    expect(await known('startReplayer')).toEqual(expect.arrayContaining(['interval', 'onRun', 'signal', 'maxAttempts', 'sealTimeout']))
    expect(await known('store.startShipper')).toEqual(['batchSize', 'interval', 'logName', 'maxRecordSize', 'mode', 'sealTimeout'])
    // One object: the filter fields (the shared ones, host and logName) and the operation's own.
    expect(await known('store.requeue')).toEqual(['attempt', 'dryRun', 'fingerprint', 'host', 'id', 'kind', 'limit', 'logName', 'olderThan', 'onProgress', 'payload', 'rate', 'reason', 'resetAttempts', 'signal', 'since', 'until'])
    expect(await known('store.purge')).toEqual(['attempt', 'dryRun', 'fingerprint', 'host', 'id', 'kind', 'limit', 'logName', 'olderThan', 'onProgress', 'payload', 'rate', 'reason', 'signal', 'since', 'until'])
    expect(await known('store.prune')).toEqual(['olderThan'])
    expect(await known('startServer')).toEqual(['allowWrites', 'db', 'host', 'logs', 'port', 'token'])
    expect(await known('logCounts')).toEqual(['maxRecordSize', 'now'])
  })

  it('options that are not an object are named the same way everywhere', async () => {
    for (const name of Object.keys(entries)) {
      if (name === 'purge' || name === 'store.purge' || name === 'store.prune' || name === 'startServer') continue // the table adds their required keys to objects only
      const err = await rejection(name, 'fast')
      expect(err.code, name).toBe('DLQ_INVALID_OPTION')
      expect(err.message, name).toBe(`dlq: ${name}() options must be an object, got "fast"`)
    }
  })
})

describe('the timer cap, everywhere a duration drives a timer', () => {
  const OVER = '25d' // 2,160,000,000 ms > 2^31 − 1
  const timers: Record<string, string[]> = {
    sealTimeout: ['replay', 'startReplayer', 'requeue', 'purge', 'store.ship', 'store.startShipper'],
    handlerTimeout: ['replay', 'startReplayer', 'store.replay'],
    interval: ['startReplayer', 'store.startShipper'],
    checkpointInterval: ['replay', 'startReplayer'],
    retryDelay: ['replay', 'startReplayer'],
    sealPollInterval: ['Logger.open'],
    openTimeout: ['Logger.open'],
    lease: ['store.replay'],
    connectTimeout: ['PostgresStore.connect'],
  }
  for (const [option, names] of Object.entries(timers)) {
    it(`${option}: ${names.join(', ')}`, async () => {
      const message = await sameRejection(names, { [option]: OVER })
      expect(message).toBe(`dlq: option \`${option}\` must be at most 2147483647 ms (about 24.8 days), got "25d"`)
    })
  }

  it('a timer of 0 where it must run: at least 1 ms', async () => {
    expect(await sameRejection(['startReplayer', 'store.startShipper'], { interval: 0 })).toBe('dlq: option `interval` must be at least 1 ms, got 0')
    expect(await sameRejection(['replay', 'store.replay'], { handlerTimeout: 0 })).toBe('dlq: option `handlerTimeout` must be at least 1 ms, got 0')
  })

  it('other durations are at most Number.MAX_SAFE_INTEGER ms, locally as centrally', async () => {
    expect(await sameRejection(['replay', 'store.replay'], { ttl: 1e300 })).toBe(`dlq: option \`ttl\` must be at most ${Number.MAX_SAFE_INTEGER} ms, got 1e+300`)
    expect(await sameRejection(['replay', 'store.replay'], { ttl: '3 moons' })).toMatch(/^dlq: option `ttl` must be a duration \(invalid duration unit "moons" in "3 moons" \(use ms, s, m, h, d, w\)\), got "3 moons"$/)
  })
})

describe('one value, one message', () => {
  const cases: Array<[Record<string, unknown>, string[], RegExp]> = [
    [{ maxRecordSize: 'huge' }, ['Logger.open', 'replay', 'startReplayer', 'stats', 'inspect', 'requeue', 'purge', 'logCounts', 'store.ship', 'store.startShipper'], /must be a size \(invalid size "huge"/],
    [{ maxRecordSize: 10 }, ['Logger.open', 'replay', 'stats', 'inspect', 'requeue', 'purge', 'logCounts', 'store.ship', 'store.startShipper'], /must be at least 64 bytes, got 10$/],
    [{ signal: {} }, ['replay', 'startReplayer', 'stats', 'inspect', 'requeue', 'purge', 'store.ship', 'store.replay', 'store.requeue', 'store.purge'], /must be an AbortSignal, got an object$/],
    [{ dryRun: 'yes' }, ['replay', 'requeue', 'purge', 'store.requeue', 'store.purge'], /must be true or false, got "yes"$/],
    [{ mode: 0o200 }, ['Logger.open', 'replay', 'store.ship', 'store.startShipper'], /must be a mode such as 0o600 that gives the owner rw, got 128$/],
    [{ maxAttempts: 2 ** 53 }, ['replay', 'startReplayer', 'store.replay'], /must be an integer >= 1, got 9007199254740992$/],
    [{ concurrency: 0 }, ['replay', 'store.replay'], /must be an integer >= 1, got 0$/],
    [{ limit: 1.5 }, ['replay', 'store.replay'], /must be an integer >= 1, got 1.5$/],
    [{ batchSize: 0 }, ['store.ship', 'store.replay'], /must be an integer >= 1, got 0$/],
    [{ logger: {} }, ['Logger.open', 'replay', 'PostgresStore.connect'], /must be a pino-compatible logger/],
    [{ onProgress: 1 }, ['stats', 'requeue', 'purge'], /must be a function, got 1$/],
    [{ initialWait: 'soon' }, ['replay', 'store.replay'], /must be a duration \(invalid duration "soon"/],
  ]
  for (const [options, names, shape] of cases) {
    it(`${JSON.stringify(options)}: ${names.join(', ')}`, async () => {
      const message = await sameRejection(names, options)
      expect(message).toMatch(new RegExp(`^dlq: option \`${Object.keys(options)[0]}\` `))
      expect(message).toMatch(shape)
    })
  }

  it('parseDuration and parseSize throw DLQ_INVALID_OPTION', () => {
    for (const f of [() => parseDuration('soon'), () => parseSize('big'), () => parseDuration(-1), () => parseSize(1.5)]) {
      expect(f).toThrow(DeadLetterError)
      expect(f).toThrow(expect.objectContaining({ code: 'DLQ_INVALID_OPTION' }))
    }
  })
})

describe('the CLI flags meet the same checks', () => {
  it('a bad flag exits 1 with the message of the option it sets', async () => {
    const lib = async (name: string, options: Record<string, unknown>) => (await rejection(name, options)).message.replace(/^dlq: option `\w+` /, '')
    const expected = {
      sealTimeout: await lib('replay', { sealTimeout: '25d' }),
      ttl: await lib('replay', { ttl: '3 moons' }),
      maxRecordSize: await lib('stats', { maxRecordSize: '10' }),
      port: await lib('startServer', { port: 70000 }),
    }
    const [sealTimeout, ttl, maxRecordSize, port, shipSeal] = await Promise.all([
      runCli(['replay', log, '--handler', 'missing.mjs', '--seal-timeout', '25d']),
      runCli(['replay', log, '--dry-run', '--ttl', '3 moons']),
      runCli(['stats', log, '--max-record-size', '10']),
      runCli(['serve', log, '--port', '70000']),
      runCli(['ship', log, '--db', 'postgres://127.0.0.1:1/x', '--seal-timeout', '25d']),
    ])
    const cases: Array<[typeof sealTimeout, string, string]> = [
      [sealTimeout, '--seal-timeout', expected.sealTimeout],
      [ttl, '--ttl', expected.ttl],
      [maxRecordSize, '--max-record-size', expected.maxRecordSize],
      [port, '--port', expected.port],
      [shipSeal, '--seal-timeout', expected.sealTimeout],
    ]
    for (const [r, flag, message] of cases) {
      expect(r.code, `${flag}: ${r.stderr}`).toBe(1)
      expect(r.stderr, flag).toContain(flag)
      expect(r.stderr, flag).toContain(message)
    }
    expect(expected.sealTimeout).toBe('must be at most 2147483647 ms (about 24.8 days), got "25d"')
  }, 60_000)
})
