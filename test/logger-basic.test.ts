import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DeadLetterError, Logger, type RotatedEvent } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { tmpDir } from './helpers/tmp.js'

const open: Logger[] = []
afterEach(async () => {
  for (const d of open.splice(0)) await d.close()
  vi.restoreAllMocks()
})

async function openAt(file: string, opts: Parameters<typeof Logger.open>[1] = {}): Promise<Logger> {
  const dlq = await Logger.open(file, { sealPollInterval: 0, ...opts })
  open.push(dlq)
  return dlq
}

function envelopes(file: string) {
  const text = fs.readFileSync(file, 'utf8')
  if (text === '') return []
  expect(text.endsWith('\n')).toBe(true)
  return text.slice(0, -1).split('\n').map(parseEnvelope)
}

const modeOf = (p: string) => fs.statSync(p).mode & 0o777

describe('files and directories', () => {
  it('creates nested directories 0700 and files 0600 by default', async () => {
    const root = tmpDir()
    const file = path.join(root, 'a', 'b', 'c', 'orders.log')
    const dlq = await openAt(file)
    await dlq.log(1, 'x')
    await dlq.logPermanent(2, 'y')
    for (const d of ['a', 'a/b', 'a/b/c']) expect(modeOf(path.join(root, d)), d).toBe(0o700)
    expect(modeOf(file)).toBe(0o600)
    expect(modeOf(path.join(root, 'a/b/c/permanent-orders.log'))).toBe(0o600)
    const sealed = await dlq.rotate()
    expect(modeOf(sealed!)).toBe(0o600)
  })

  it('the mode and dirMode options widen permissions', async () => {
    const old = process.umask(0o022)
    try {
      const root = tmpDir()
      const file = path.join(root, 'shared', 'orders.log')
      const dlq = await openAt(file, { mode: 0o640, dirMode: 0o750 })
      await dlq.log(1, 'x')
      await dlq.logPermanent(1, 'x')
      expect(modeOf(path.join(root, 'shared'))).toBe(0o750)
      expect(modeOf(file)).toBe(0o640)
      expect(modeOf(path.join(root, 'shared', 'permanent-orders.log'))).toBe(0o640)
      expect(modeOf(path.join(root, 'shared', '.orders.log.lock'))).toBe(0o640)
    } finally {
      process.umask(old)
    }
  })

  it('creates the active files at open, empty', async () => {
    const dir = tmpDir()
    await openAt(path.join(dir, 'orders.log'))
    expect(fs.readdirSync(dir).sort()).toEqual(['.orders.log.lock', 'orders.log', 'permanent-orders.log'])
    expect(fs.statSync(path.join(dir, 'orders.log')).size).toBe(0)
  })

  it('rejects a path that is a directory, and an empty path', async () => {
    const dir = tmpDir()
    fs.mkdirSync(path.join(dir, 'orders.log'))
    await expect(Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0 })).rejects.toBeInstanceOf(DeadLetterError)
    await expect(Logger.open('')).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
    // A failed open must release the lock it took.
    expect(fs.existsSync(path.join(dir, '.orders.log.lock'))).toBe(false)
  })
})

describe('unsafe paths', () => {
  it('refuses to follow a symbolic link planted at the active file', async () => {
    const dir = tmpDir()
    const target = path.join(dir, 'elsewhere.txt')
    fs.writeFileSync(target, 'do not touch\n')
    fs.symlinkSync(target, path.join(dir, 'orders.log'))
    await expect(Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0 })).rejects.toMatchObject({ code: 'DLQ_UNSAFE_PATH' })
    expect(fs.readFileSync(target, 'utf8')).toBe('do not touch\n')
    expect(fs.existsSync(path.join(dir, '.orders.log.lock'))).toBe(false)
  })
})

describe('log, logPermanent, id', () => {
  it('records the id option', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const dlq = await openAt(file)
    await dlq.log({ a: 1 }, 'x', 1, { id: 'ord-42' })
    await dlq.log({ a: 2 }, 'x')
    const [a, b] = envelopes(file)
    expect(a.id).toBe('ord-42')
    expect(b.id).toBeUndefined()
    expect(b).not.toHaveProperty('id')
  })

  it('logPermanent writes permanent-<name><ext> keeping attempt and reason, with "final":"manual"', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    const dlq = await openAt(file)
    await dlq.logPermanent({ order: 9 }, new TypeError('schema mismatch'), 4, { id: 'o-9' })
    const perm = envelopes(path.join(dir, 'permanent-orders.log'))
    expect(perm).toHaveLength(1)
    expect(perm[0]).toMatchObject({
      attempt: 4,
      reason: 'schema mismatch',
      errorName: 'TypeError',
      id: 'o-9',
      final: 'manual',
      payload: { order: 9 },
    })
    expect(fs.readFileSync(path.join(dir, 'permanent-orders.log'), 'utf8')).toContain('"final":"manual","payload":')
    expect(envelopes(file)).toEqual([]) // nothing went to the retry log
  })

  it('works for a log name without extension', async () => {
    const dir = tmpDir()
    const dlq = await openAt(path.join(dir, 'jobs'))
    await dlq.logPermanent(1, 'x')
    await dlq.log(2, 'y')
    expect(envelopes(path.join(dir, 'permanent-jobs'))[0].payload).toBe(1)
    expect(envelopes(path.join(dir, 'jobs'))[0].payload).toBe(2)
  })
})

describe('flush and close', () => {
  it('flush() resolves once everything logged before it is in the file', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    const dlq = await openAt(file)
    for (let i = 0; i < 500; i++) void dlq.log({ i }, 'x')
    for (let i = 0; i < 5; i++) void dlq.logPermanent({ i }, 'y')
    await dlq.flush()
    expect(envelopes(file).map((e) => (e.payload as { i: number }).i)).toEqual([...Array(500).keys()])
    expect(envelopes(path.join(dir, 'permanent-orders.log'))).toHaveLength(5)
  })

  it('close() writes what is buffered, is idempotent, and later calls reject DLQ_CLOSED', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    const dlq = await Logger.open(file, { sealPollInterval: 0 })
    const pending = dlq.log({ last: true }, 'x')
    const c1 = dlq.close()
    const c2 = dlq.close()
    await Promise.all([c1, c2, pending])
    await dlq.close()
    expect(dlq.isClosed).toBe(true)
    expect(envelopes(file).map((e) => e.payload)).toEqual([{ last: true }])
    await expect(dlq.log(1, 'x')).rejects.toMatchObject({ code: 'DLQ_CLOSED' })
    await expect(dlq.logPermanent(1, 'x')).rejects.toMatchObject({ code: 'DLQ_CLOSED' })
    await expect(dlq.rotate()).rejects.toMatchObject({ code: 'DLQ_CLOSED' })
    await expect(dlq.log(1, 'x')).rejects.toBeInstanceOf(DeadLetterError)
    expect(fs.existsSync(path.join(dir, '.orders.log.lock'))).toBe(false)
  })
})

describe('rotate()', () => {
  it('returns the sealed path, or null when the active segment is empty', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    const dlq = await openAt(file)
    const rotated: RotatedEvent[] = []
    dlq.on('rotated', (e) => rotated.push(e))
    expect(await dlq.rotate()).toBeNull()
    await dlq.log({ n: 1 }, 'before')
    void dlq.log({ n: 2 }, 'before, not awaited')
    const sealed = await dlq.rotate()
    expect(sealed).toMatch(/\.\d{12}\.log$/)
    expect(path.dirname(sealed!)).toBe(dir)
    expect(path.basename(sealed!)).toBe('orders.000000000001.log')
    expect(rotated).toEqual([{ kind: 'retry', path: sealed }])
    await dlq.log({ n: 3 }, 'after')
    expect(envelopes(sealed!).map((e) => e.payload)).toEqual([{ n: 1 }, { n: 2 }])
    expect(envelopes(file).map((e) => e.payload)).toEqual([{ n: 3 }])
    expect(await dlq.rotate()).toBe(path.join(dir, 'orders.000000000002.log'))
    expect(await dlq.rotate()).toBeNull()
  })

  it('continues the sequence after a restart', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    const a = await Logger.open(file, { sealPollInterval: 0 })
    await a.log(1, 'x')
    expect(path.basename((await a.rotate())!)).toBe('orders.000000000001.log')
    await a.close()
    const b = await openAt(file)
    await b.log(2, 'x')
    expect(path.basename((await b.rotate())!)).toBe('orders.000000000002.log')
  })
})

describe('torn last line at open', () => {
  it('isolates it so the next record is on its own line and parses', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    const good = '{"ts":1,"attempt":1,"reason":"ok","payload":{"n":0}}\n'
    const torn = '{"ts":2,"attempt":1,"reason":"cut","payload":{"n":1,"bi'
    fs.writeFileSync(file, good + torn)
    const warnings: Error[] = []
    const dlq = await Logger.open(file, { sealPollInterval: 0 })
    open.push(dlq)
    dlq.on('warning', (w) => warnings.push(w))
    await dlq.log({ n: 2 }, 'next')
    const lines = fs.readFileSync(file, 'utf8').split('\n')
    expect(lines).toEqual([good.trimEnd(), torn, expect.any(String), ''])
    expect(parseEnvelope(lines[2])).toMatchObject({ reason: 'next', payload: { n: 2 } })
    expect(() => parseEnvelope(lines[1])).toThrow()
    // Found during open(), yet still delivered to a listener attached right after it.
    await new Promise((r) => setImmediate(r))
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/isolated a torn last line/)])
  })

  it('reports the isolation through the logger option', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    fs.writeFileSync(file, '{"ts":2,"attem')
    const warn = vi.fn()
    const sink = { info: vi.fn(), warn, error: vi.fn() }
    await openAt(file, { logger: sink })
    expect(warn).toHaveBeenCalledWith(expect.anything(), expect.stringContaining('torn'))
  })
})

describe('the library never writes to the console', () => {
  it('stays silent through open, torn-tail repair, errors, rotation and close', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m))
    const errSpy = vi.spyOn(process.stderr, 'write')
    const outSpy = vi.spyOn(process.stdout, 'write')
    try {
      const dir = tmpDir()
      const file = path.join(dir, 'orders.log')
      fs.writeFileSync(file, '{"torn')
      const dlq = await Logger.open(file, { sealPollInterval: 0, compress: true })
      await dlq.log(1, new Error('x'))
      await dlq.log({ b: 1n }, 'x').catch(() => {})
      await dlq.rotate()
      await dlq.close()
      for (const s of spies) expect(s).not.toHaveBeenCalled()
      expect(errSpy).not.toHaveBeenCalled()
      expect(outSpy).not.toHaveBeenCalled()
    } finally {
      for (const s of spies) s.mockRestore()
      errSpy.mockRestore()
      outSpy.mockRestore()
    }
  })
})

describe('startReplayer', () => {
  it('rejects a misspelled replay option at once instead of failing every background run', async () => {
    const dlq = await openAt(path.join(tmpDir(), 'orders.log'))
    expect(() => dlq.startReplayer(() => {}, { interval: '1s', maxAttempt: 3 } as never)).toThrow(
      expect.objectContaining({ code: 'DLQ_INVALID_OPTION', message: expect.stringContaining('maxAttempt') }),
    )
    expect(() => dlq.startReplayer(() => {}, { interval: 'soon' })).toThrow(expect.objectContaining({ code: 'DLQ_INVALID_OPTION' }))
  })
})
