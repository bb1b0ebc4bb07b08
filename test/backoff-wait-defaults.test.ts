/**
 * Issue 17 (smaller): `initialWait` given alone must not collide with a `maxWait` the user
 * never gave (`--initial-wait 1h` failed with "--max-wait must be >= initialWait … got
 * 30000"). Then maxWait is max(its default, initialWait); given explicitly, it must still be
 * >= initialWait. One rule (settleBackoffWaits), for local and central replay alike.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { resolveReplayOptions } from '../src/base/options.js'
import { resolveCentralReplayOptions } from '../src/postgres/options.js'
import { tmpDir } from './helpers/tmp.js'
import { runCli } from './fixtures/cli-util.js'

const H = 3_600_000

describe.each([
  ['local replay', resolveReplayOptions],
  ['central replay', resolveCentralReplayOptions],
] as const)('%s options', (_name, resolve) => {
  it('maxWait follows a larger initialWait when not given', () => {
    expect(resolve({ initialWait: '1h' })).toMatchObject({ initialWait: H, maxWait: H })
  })

  it('keeps its default when initialWait is smaller, and when nothing is given', () => {
    expect(resolve({ initialWait: '10s' })).toMatchObject({ initialWait: 10_000, maxWait: 30_000 })
    expect(resolve({})).toMatchObject({ initialWait: 1000, maxWait: 30_000 })
  })

  it('a maxWait given below initialWait is still an error', () => {
    expect(() => resolve({ initialWait: '1h', maxWait: '10s' })).toThrow(expect.objectContaining({ code: 'DLQ_INVALID_OPTION', message: expect.stringMatching(/maxWait/) }))
  })
})

it('dlq.replay({ initialWait: "1h" }) defers a failed item by about an hour', async () => {
  const dir = tmpDir()
  const dlq = await Logger.open(path.join(dir, 'q.log'), { sealPollInterval: 0 })
  try {
    await dlq.log({ n: 1 }, 'x')
    const before = Date.now()
    const s = await dlq.replay(() => {
      throw new Error('still down')
    }, { initialWait: '1h' })
    expect(s.requeued).toBe(1)
    const relogged = fs.readdirSync(dir).filter((n) => /^q\.r\d{12}\.log$/.test(n))
    const env = parseEnvelope(fs.readFileSync(path.join(dir, relogged[0]), 'utf8').trim())
    expect(env.dueTs! - before).toBeGreaterThanOrEqual(H)
  } finally {
    await dlq.close()
  }
})

it('dletter replay --initial-wait 1h (no --max-wait) runs', async () => {
  const dir = tmpDir()
  const dlq = await Logger.open(path.join(dir, 'q.log'), { sealPollInterval: 0 })
  await dlq.log({ n: 1 }, 'x')
  await dlq.close()
  const handler = path.join(dir, 'handler.mjs')
  fs.writeFileSync(handler, 'export default async () => { throw new Error("still down") }\n')
  const r = await runCli(['replay', path.join(dir, 'q.log'), '--handler', handler, '--initial-wait', '1h', '--json'])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expect(JSON.parse(r.stdout)).toMatchObject({ requeued: 1 })
})
