import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeadLetterError, Logger } from '../src/index.js'
import { parseDuration, parseSize } from '../src/base/checks.js'
import { loggerDefaults, replayDefaults, resolveLoggerOptions, resolveReplayOptions } from '../src/base/options.js'
import { tmpDir } from './helpers/tmp.js'

function invalid(fn: () => unknown): DeadLetterError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(DeadLetterError)
    return err as DeadLetterError
  }
  throw new Error('expected a throw')
}

describe('resolveLoggerOptions: defaults', () => {
  it('applies every default when no options are given', () => {
    const o = resolveLoggerOptions(undefined)
    expect(o).toEqual(loggerDefaults)
    expect(o.durability).toBe('kernel')
    expect(o.maxBufferedBytes).toBe(8 * 1024 * 1024)
    expect(o.maxRecordSize).toBe(16 * 1024 * 1024)
    expect(o.rotateSize).toBe(64 * 1024 * 1024)
    expect(o.compress).toBe(false)
    expect(o.onFull).toBe('reject')
    expect(o.mode).toBe(0o600)
    expect(o.dirMode).toBe(0o700)
    expect(o.maxRetryBytes).toBeUndefined()
    expect(o.rotateInterval).toBeUndefined()
  })

  it('keeps defaults for options not given and for options explicitly undefined', () => {
    const o = resolveLoggerOptions({ compress: true, rotateSize: undefined })
    expect(o.compress).toBe(true)
    expect(o.rotateSize).toBe(loggerDefaults.rotateSize)
    expect(o.durability).toBe('kernel')
  })

  it('parses size and duration strings in options', () => {
    const o = resolveLoggerOptions({ rotateSize: '16KiB', maxRecordSize: '1M', maxBufferedBytes: 4096, maxAge: '30d' })
    expect(o.rotateSize).toBe(16 * 1024)
    expect(o.maxRecordSize).toBe(1024 * 1024)
    expect(o.maxBufferedBytes).toBe(4096)
    expect(o.maxAge).toBe(30 * 86_400_000)
  })

  it('does not share the defaults object between resolutions', () => {
    const a = resolveLoggerOptions({})
    ;(a as { compress: boolean }).compress = true
    expect(resolveLoggerOptions({}).compress).toBe(false)
    expect(loggerDefaults.compress).toBe(false)
  })
})

describe('resolveLoggerOptions: validation names the option', () => {
  const bad: Array<[string, unknown]> = [
    ['durability', 'sometimes'],
    ['maxBufferedBytes', 'lots'],
    ['maxBufferedBytes', 100], // under the 1024-byte floor
    ['maxRecordSize', -1],
    ['maxRecordSize', 10], // under the 64-byte floor
    ['rotateSize', '12 parsecs'],
    ['rotateSize', 100], // neither 0 nor >= 1024
    ['rotateInterval', '7s'], // does not divide 60
    ['rotateInterval', 30],
    ['rotateInterval', '5h'], // does not divide 24
    ['compress', 'yes'],
    ['maxRetryBytes', {}],
    ['maxRetryBytes', 10],
    ['onFull', 'drop-newest'],
    ['maxBackups', 0],
    ['maxBackups', 1.5],
    ['maxAge', 'forever'],
    ['mode', '0600'],
    ['mode', 0o10000],
    ['dirMode', -1],
    ['schema', 'not an object'],
    ['schema', [1, 2]],
    ['logger', { info() {} }],
    ['sealPollInterval', '1 fortnight'],
    ['now', 5],
  ]
  for (const [name, value] of bad) {
    it(`rejects ${name} = ${JSON.stringify(value) ?? String(value)}`, () => {
      const err = invalid(() => resolveLoggerOptions({ [name]: value }))
      expect(err.code).toBe('DLQ_INVALID_OPTION')
      expect(err.message).toContain(`\`${name}\``)
    })
  }

  it('accepts the boundary values', () => {
    expect(() => resolveLoggerOptions({ rotateSize: 0 })).not.toThrow()
    expect(() => resolveLoggerOptions({ rotateSize: 1024, maxBufferedBytes: 1024, maxRecordSize: 64 })).not.toThrow()
    expect(() => resolveLoggerOptions({ rotateInterval: '30s' })).not.toThrow()
    expect(() => resolveLoggerOptions({ rotateInterval: '6h' })).not.toThrow()
    expect(() => resolveLoggerOptions({ maxBackups: 1, onFull: 'drop-oldest', maxRetryBytes: '1M' })).not.toThrow()
    expect(() => resolveLoggerOptions({ logger: { info() {}, warn() {}, error() {} } })).not.toThrow()
  })

  it('rejects an unknown option naming the key (a typo does not silently fall back to a default)', () => {
    const err = invalid(() => resolveLoggerOptions({ rotateSzie: '1M' }))
    expect(err.code).toBe('DLQ_INVALID_OPTION')
    expect(err.message).toContain('`rotateSzie`')
    expect(err.message).toContain('rotateSize') // the list of known keys helps spot the typo
  })

  it('rejects options that are not an object', () => {
    expect(invalid(() => resolveLoggerOptions('fsync')).code).toBe('DLQ_INVALID_OPTION')
    expect(invalid(() => resolveLoggerOptions([1])).code).toBe('DLQ_INVALID_OPTION')
  })
})

describe('resolveReplayOptions', () => {
  it('applies the defaults and parses durations', () => {
    expect(resolveReplayOptions(undefined)).toEqual(replayDefaults)
    const o = resolveReplayOptions({ ttl: '72h', initialWait: '500ms', maxWait: '30s', maxRecordSize: '1M' })
    expect(o.ttl).toBe(72 * 3_600_000)
    expect(o.initialWait).toBe(500)
    expect(o.maxWait).toBe(30_000)
    expect(o.maxRecordSize).toBe(1024 * 1024)
    expect(o.maxAttempts).toBe(5)
  })

  const bad: Array<[string, unknown]> = [
    ['maxAttempts', 0],
    ['initialWait', 'later'],
    ['maxWait', -5],
    ['retries', -1],
    ['concurrency', 0],
    ['ttl', '3 moons'],
    ['limit', 2.5],
    ['signal', {}],
    ['dryRun', 1],
    ['checkpointEvery', 0],
    ['checkpointInterval', 'often'],
    ['sealTimeout', '1x'],
    ['retryDelay', []],
    ['maxRecordSize', 8],
    ['mode', 'rw'],
    ['logger', console.log],
    ['now', 'now'],
    ['random', 4],
  ]
  for (const [name, value] of bad) {
    it(`rejects ${name} = ${JSON.stringify(value) ?? String(value)} naming it`, () => {
      const err = invalid(() => resolveReplayOptions({ [name]: value }))
      expect(err.code).toBe('DLQ_INVALID_OPTION')
      expect(err.message).toContain(`\`${name}\``)
    })
  }

  it('rejects maxWait below initialWait, naming maxWait', () => {
    const err = invalid(() => resolveReplayOptions({ initialWait: '10s', maxWait: '1s' }))
    expect(err.message).toContain('`maxWait`')
  })

  it('rejects an unknown replay option naming the key', () => {
    const err = invalid(() => resolveReplayOptions({ maxAttempt: 3 }))
    expect(err.code).toBe('DLQ_INVALID_OPTION')
    expect(err.message).toContain('`maxAttempt`')
  })
})

describe('Logger.open validates options before touching the disk', () => {
  it('rejects a bad option with DLQ_INVALID_OPTION and creates nothing', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'sub', 'orders.log')
    await expect(Logger.open(file, { durability: 'always' as never })).rejects.toMatchObject({
      code: 'DLQ_INVALID_OPTION',
      message: expect.stringContaining('`durability`'),
    })
    expect(fs.existsSync(path.join(dir, 'sub'))).toBe(false)
  })

  it('rejects an unknown option naming it', async () => {
    const dir = tmpDir()
    await expect(Logger.open(path.join(dir, 'a.log'), { maxAttempt: 3 } as never)).rejects.toMatchObject({
      code: 'DLQ_INVALID_OPTION',
      message: expect.stringContaining('`maxAttempt`'),
    })
  })

  it('an uncompilable schema rejects DLQ_INVALID_OPTION and leaves no lock behind', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'a.log')
    await expect(Logger.open(file, { schema: { type: 'nonsense' } })).rejects.toMatchObject({
      code: 'DLQ_INVALID_OPTION',
      message: expect.stringContaining('`schema`'),
    })
    // The failed open must not keep the writer lock: a corrected open succeeds.
    const dlq = await Logger.open(file)
    await dlq.close()
  })
})

describe('parseDuration', () => {
  const good: Array<[string | number, number]> = [
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['15m', 900_000],
    ['72h', 72 * 3_600_000],
    ['30d', 30 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['1500', 1500],
    [' 10 s ', 10_000],
    ['10S', 10_000],
    [250, 250],
    [0, 0],
  ]
  for (const [input, ms] of good) {
    it(`${JSON.stringify(input)} → ${ms} ms`, () => expect(parseDuration(input)).toBe(ms))
  }

  it('rejects junk with a message that shows the input and examples', () => {
    expect(() => parseDuration('soon')).toThrow(/invalid duration "soon".*examples/)
    expect(() => parseDuration('')).toThrow(/invalid duration/)
    expect(() => parseDuration('-5s')).toThrow(/invalid duration/)
    expect(() => parseDuration('5 s s')).toThrow(/invalid duration/)
  })

  it('rejects an unknown unit naming it and the units it accepts', () => {
    expect(() => parseDuration('3y')).toThrow(/unit "y".*ms, s, m, h, d, w/)
  })

  it('rejects negative and non-finite numbers', () => {
    expect(() => parseDuration(-1)).toThrow(/invalid duration/)
    expect(() => parseDuration(NaN)).toThrow(/invalid duration/)
    expect(() => parseDuration(Infinity)).toThrow(/invalid duration/)
  })
})

describe('parseSize', () => {
  const K = 1024
  const M = K * K
  const good: Array<[string | number, number]> = [
    ['64M', 64 * M],
    ['16MiB', 16 * M],
    ['1G', K * M],
    ['1GB', K * M],
    ['512K', 512 * K],
    ['512kb', 512 * K],
    ['4096', 4096],
    ['100B', 100],
    ['1.5K', 1536],
    [' 2 M ', 2 * M],
    [0, 0],
    [4096, 4096],
  ]
  for (const [input, bytes] of good) {
    it(`${JSON.stringify(input)} → ${bytes} bytes`, () => expect(parseSize(input)).toBe(bytes))
  }

  it('rejects junk with a message that shows the input and examples', () => {
    expect(() => parseSize('big')).toThrow(/invalid size "big".*examples/)
    expect(() => parseSize('')).toThrow(/invalid size/)
    expect(() => parseSize('-1M')).toThrow(/invalid size/)
  })

  it('rejects an unknown unit naming it', () => {
    expect(() => parseSize('3T')).toThrow(/unit "T".*B, K, M, G/)
  })

  it('rejects negative and fractional byte counts', () => {
    expect(() => parseSize(-1)).toThrow(/invalid size/)
    expect(() => parseSize(1.5)).toThrow(/invalid size/)
  })

  it('surfaces the parser message inside the option error', () => {
    const err = invalid(() => resolveLoggerOptions({ maxRecordSize: '3T' }))
    expect(err.message).toContain('`maxRecordSize`')
    expect(err.message).toContain('unit "T"')
  })
})
