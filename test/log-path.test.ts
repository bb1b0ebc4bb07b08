/**
 * One rule for a log path (src/store/log-path.ts), at every entry point: a missing directory
 * (or a file where the directory belongs) is DLQ_NOT_FOUND — a replay, a dry run included,
 * is not an empty log there —; a directory given as the log is DLQ_INVALID_ARGUMENT naming
 * the logs in it; an empty path or a NUL byte is DLQ_INVALID_ARGUMENT. The CLI exits 1 for
 * all of them.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeadLetterError, Logger, checkLogPath, inspect, purge, replay, requeue, stats } from '../src/index.js'
import { startServer } from '../src/serve/server.js'
import { runCli } from './fixtures/cli-util.js'
import { tmpDir } from './helpers/tmp.js'
import { usePGliteStore } from './postgres/setup.js'

const pg = usePGliteStore('paths')

async function drain(it: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of it);
}

const noop = (): void => {}

/** Every entry point that takes an existing log's path. */
const entries: Record<string, (log: string) => Promise<unknown>> = {
  stats: (log) => stats(log),
  inspect: (log) => drain(inspect(log)),
  requeue: (log) => requeue(log),
  purge: (log) => purge(log, { kind: 'permanent' }),
  checkLogPath: (log) => checkLogPath(log),
  replay: (log) => replay(log, noop),
  'replay dry run': (log) => replay(log, noop, { dryRun: true }),
  'store.ship': (log) => pg.store.ship(log),
  startServer: async (log) => (await startServer({ logs: [log], port: 0 })).close(),
}

async function rejectionOf(p: Promise<unknown>): Promise<DeadLetterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DeadLetterError)
  return err as DeadLetterError
}

async function writeLog(file: string): Promise<void> {
  const dlq = await Logger.open(file)
  await dlq.log({ n: 1 }, 'boom')
  await dlq.close()
}

describe('a missing directory', () => {
  it('is DLQ_NOT_FOUND from every entry point, with one message, and nothing is created', async () => {
    const dir = tmpDir()
    const missing = path.join(dir, 'nope', 'orders.log')
    for (const [name, call] of Object.entries(entries)) {
      const err = await rejectionOf(call(missing))
      expect(err.code, name).toBe('DLQ_NOT_FOUND')
      expect(err.message, name).toBe(`dlq: no such directory: ${path.join(dir, 'nope')} (from log path ${missing})`)
    }
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('a file where the directory belongs is DLQ_NOT_FOUND too', async () => {
    const dir = tmpDir()
    fs.writeFileSync(path.join(dir, 'file'), 'x')
    const under = path.join(dir, 'file', 'orders.log')
    for (const [name, call] of Object.entries(entries)) {
      const err = await rejectionOf(call(under))
      expect(err.code, name).toBe('DLQ_NOT_FOUND')
      expect(err.message, name).toBe(`dlq: ${path.join(dir, 'file')} is not a directory (from log path ${under})`)
    }
  })

  it('dletter stats, replay and serve exit 1 with the same message', async () => {
    const dir = tmpDir()
    const missing = path.join(dir, 'nope', 'orders.log')
    const runs = await Promise.all([
      runCli(['stats', missing]),
      runCli(['replay', missing, '--dry-run']),
      runCli(['replay', missing, '--handler', 'missing.mjs']),
      runCli(['serve', missing, '--port', '0']),
    ])
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).toBe(`dletter: no such directory: ${path.join(dir, 'nope')} (from log path ${missing})\n`)
    }
  }, 60_000)
})

describe('a directory given as the log', () => {
  it('is DLQ_INVALID_ARGUMENT naming the logs in it, Logger.open included', async () => {
    const dir = tmpDir()
    await writeLog(path.join(dir, 'orders.log'))
    await writeLog(path.join(dir, 'mails.jsonl'))
    const named = `dlq: ${dir} is a directory; pass the log file path, e.g. ${path.join(dir, 'mails.jsonl')} or ${path.join(dir, 'orders.log')}`
    for (const [name, call] of Object.entries({ ...entries, 'Logger.open': (log: string) => Logger.open(log) })) {
      const err = await rejectionOf(call(dir))
      expect(err.code, name).toBe('DLQ_INVALID_ARGUMENT')
      expect(err.message, name).toBe(named)
    }
    const cli = await runCli(['stats', dir])
    expect(cli.code).toBe(1)
    expect(cli.stderr).toBe(`dletter: ${named.slice('dlq: '.length)}\n`)
  }, 60_000)

  it('with no log in it, says what to pass', async () => {
    const dir = tmpDir()
    const err = await rejectionOf(stats(dir))
    expect(err).toMatchObject({ code: 'DLQ_INVALID_ARGUMENT', message: `dlq: ${dir} is a directory; pass the log file path, e.g. ${path.join(dir, 'app.log')} (the path given to Logger.open)` })
  })
})

describe('an empty path or a NUL byte', () => {
  it('is DLQ_INVALID_ARGUMENT from every entry point', async () => {
    const dir = tmpDir()
    for (const [name, call] of Object.entries(entries)) {
      for (const bad of ['', ' ', path.join(dir, 'orders\0.log')]) {
        // startServer takes its paths in an option: an empty one is a bad option there.
        const code = name === 'startServer' && bad.trim() === '' ? 'DLQ_INVALID_OPTION' : 'DLQ_INVALID_ARGUMENT'
        expect((await rejectionOf(call(bad))).code, `${name} ${JSON.stringify(bad)}`).toBe(code)
      }
    }
    expect(fs.readdirSync(dir)).toEqual([])
  })
})

describe('an existing directory without files of the log', () => {
  it('is an empty log, not an error', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    expect(await replay(log, noop, { dryRun: true })).toMatchObject({ handled: 0 })
    expect(await replay(log, noop)).toMatchObject({ handled: 0 })
    expect(await pg.store.ship(log)).toMatchObject({ shipped: 0, files: 0 })
  })
})

it('checkLogPath resolves with the active file, directory and file name of a good path', async () => {
  const dir = tmpDir()
  expect(await checkLogPath(path.join(dir, 'orders.log'))).toEqual({ active: path.join(dir, 'orders.log'), dir, file: 'orders.log' })
})
