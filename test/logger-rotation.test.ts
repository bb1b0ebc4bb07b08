import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger, type LoggerLike, type RotatedEvent } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { tmpDir } from './helpers/tmp.js'

const open: Logger[] = []
afterEach(async () => {
  for (const d of open.splice(0)) await d.close()
})

const SEALED = /^orders\.(\d{12})\.log(\.gz)?$/

function sealedNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => SEALED.test(n))
    .sort()
}

function linesOf(file: string): string[] {
  const buf = fs.readFileSync(file)
  const text = (file.endsWith('.gz') ? zlib.gunzipSync(buf) : buf).toString('utf8')
  if (text === '') return []
  expect(text.endsWith('\n'), `${path.basename(file)} ends with a newline`).toBe(true)
  return text.slice(0, -1).split('\n')
}

interface Item {
  p: number
  i: number
}

/** Records of all sealed segments in sequence order, then the active file. */
function allItems(dir: string): { items: Item[]; perFile: Map<string, Item[]> } {
  const perFile = new Map<string, Item[]>()
  const items: Item[] = []
  for (const n of [...sealedNames(dir), 'orders.log']) {
    const its = linesOf(path.join(dir, n)).map((l) => parseEnvelope(l).payload as Item)
    perFile.set(n, its)
    items.push(...its)
  }
  return { items, perFile }
}

function expectEachOnce(items: Item[], P: number, N: number): void {
  const seen = new Set<string>()
  for (const it of items) {
    const k = `${it.p}:${it.i}`
    expect(seen.has(k), `duplicate ${k}`).toBe(false)
    seen.add(k)
  }
  expect(seen.size).toBe(P * N)
}

async function until(cond: () => boolean, what: string, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Interval boundaries that found the active file empty: the writer says so at debug level
 * through the injected logger (it seals nothing then, so nothing on disk shows them).
 */
function watchBoundaries(): { logger: LoggerLike; empty: () => number } {
  let empty = 0
  const logger: LoggerLike = {
    info: () => {},
    warn: () => {},
    error: () => {},
    debug: (_obj, msg) => {
      if (msg?.includes('interval boundary') && msg.includes('nothing to seal')) empty++
    },
  }
  return { logger, empty: () => empty }
}

describe('size rotation', () => {
  it('under load (16 KiB, 20k records) loses and duplicates nothing across sealed + active segments', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: '16KiB' })
    open.push(dlq)
    const rotated: RotatedEvent[] = []
    dlq.on('rotated', (e) => rotated.push(e))
    const P = 20
    const N = 1000
    await Promise.all(
      Array.from({ length: P }, async (_, p) => {
        for (let i = 0; i < N; i++) await dlq.log({ p, i, pad: 'x'.repeat((p + i) % 64) }, 'load')
      }),
    )
    await dlq.close()
    const names = sealedNames(dir)
    expect(names.length).toBeGreaterThan(20)
    // Sequence numbers are contiguous from 1, so name order is creation order.
    expect(names.map((n) => Number(SEALED.exec(n)![1]))).toEqual(names.map((_, k) => k + 1))
    expect(rotated.filter((e) => e.kind === 'retry').map((e) => path.basename(e.path)).sort()).toEqual(names)
    for (const n of names) expect(fs.statSync(path.join(dir, n)).size).toBeGreaterThanOrEqual(16 * 1024)
    const { items } = allItems(dir)
    expectEachOnce(items, P, N)
    // Reading segments in name order gives each producer's records in the order it logged them.
    const last = new Map<number, number>()
    for (const it of items) {
      expect(it.i).toBeGreaterThan(last.get(it.p) ?? -1)
      last.set(it.p, it.i)
    }
  })

  it('rotates the permanent log by size too, in its own namespace', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: 1024 })
    open.push(dlq)
    for (let i = 0; i < 50; i++) await dlq.logPermanent({ p: 0, i, pad: 'y'.repeat(100) }, 'perm')
    await dlq.close()
    const sealed = fs.readdirSync(dir).filter((n) => /^permanent-orders\.\d{12}\.log$/.test(n)).sort()
    expect(sealed.length).toBeGreaterThan(3)
    expect(sealedNames(dir)).toEqual([]) // the retry family was not touched
    const items = [...sealed, 'permanent-orders.log'].flatMap((n) => linesOf(path.join(dir, n)).map((l) => parseEnvelope(l).payload as Item))
    expectEachOnce(items, 1, 50)
  })
})

describe('rotate() racing writes', () => {
  it('many rotate() calls during concurrent logging: nothing lost, nothing duplicated, no empty segments', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: '8KiB' })
    open.push(dlq)
    const P = 10
    const N = 500
    let done = false
    const producers = Promise.all(
      Array.from({ length: P }, async (_, p) => {
        for (let i = 0; i < N; i++) await dlq.log({ p, i }, 'r')
      }),
    ).finally(() => (done = true))
    const sealed: Array<string | null> = []
    while (!done) {
      sealed.push(...(await Promise.all([dlq.rotate(), dlq.rotate()])))
      await new Promise((r) => setImmediate(r))
    }
    await producers
    await dlq.close()
    expect(sealed.filter((s) => s !== null).length).toBeGreaterThan(0)
    for (const n of sealedNames(dir)) expect(fs.statSync(path.join(dir, n)).size).toBeGreaterThan(0)
    expectEachOnce(allItems(dir).items, P, N)
  })
})

describe('compression', () => {
  it('compress: true leaves .gz segments holding every record and no .gz.tmp after close', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateSize: '16KiB', compress: true })
    open.push(dlq)
    const P = 10
    const N = 500
    await Promise.all(
      Array.from({ length: P }, async (_, p) => {
        for (let i = 0; i < N; i++) await dlq.log({ p, i }, 'c')
      }),
    )
    const manual = await dlq.rotate()
    expect(manual).not.toBeNull()
    await dlq.close()
    const names = fs.readdirSync(dir)
    expect(names.filter((n) => n.endsWith('.gz.tmp'))).toEqual([])
    const sealed = sealedNames(dir)
    expect(sealed.length).toBeGreaterThan(1)
    expect(sealed.every((n) => n.endsWith('.gz'))).toBe(true)
    for (const n of sealed) expect(fs.statSync(path.join(dir, n)).mode & 0o777).toBe(0o600)
    expectEachOnce(allItems(dir).items, P, N)
  })

  it('recovery: a sealed X plus a stale X.gz.tmp leaves exactly one readable copy', async () => {
    const dir = tmpDir()
    const x = path.join(dir, 'orders.000000000001.log')
    const body = '{"ts":1,"attempt":1,"reason":null,"payload":{"p":0,"i":0}}\n'
    fs.writeFileSync(x, body)
    fs.writeFileSync(`${x}.gz.tmp`, zlib.gzipSync(body).subarray(0, 10)) // cut short by a crash
    const warnings: string[] = []
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, logger: { info() {}, error() {}, warn: (_o, m) => warnings.push(m ?? '') } })
    open.push(dlq)
    expect(fs.existsSync(`${x}.gz.tmp`)).toBe(false)
    expect(fs.readFileSync(x, 'utf8')).toBe(body)
    expect(warnings.some((w) => w.includes('partial compressed'))).toBe(true)
    await dlq.close()
    expect(sealedNames(dir)).toEqual(['orders.000000000001.log'])
  })

  it('recovery with compress: true compresses the leftover X, ending with only X.gz', async () => {
    const dir = tmpDir()
    const x = path.join(dir, 'orders.000000000001.log')
    const body = '{"ts":1,"attempt":1,"reason":null,"payload":{"p":0,"i":0}}\n'
    fs.writeFileSync(x, body)
    fs.writeFileSync(`${x}.gz.tmp`, 'partial')
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, compress: true })
    await dlq.close()
    expect(sealedNames(dir)).toEqual(['orders.000000000001.log.gz'])
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([])
    expect(zlib.gunzipSync(fs.readFileSync(`${x}.gz`)).toString()).toBe(body)
  })

  it('recovery: X plus a complete X.gz leaves only X.gz', async () => {
    const dir = tmpDir()
    const x = path.join(dir, 'orders.000000000001.log')
    const body = '{"ts":1,"attempt":1,"reason":null,"payload":{"p":0,"i":0}}\n'
    fs.writeFileSync(x, body)
    fs.writeFileSync(`${x}.gz`, zlib.gzipSync(body))
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0 })
    open.push(dlq)
    expect(sealedNames(dir)).toEqual(['orders.000000000001.log.gz'])
    expect(zlib.gunzipSync(fs.readFileSync(`${x}.gz`)).toString()).toBe(body)
  })

  it('new sealed segments continue after the highest sequence, counting .gz and .gz.tmp names', async () => {
    const dir = tmpDir()
    fs.writeFileSync(path.join(dir, 'orders.000000000004.log.gz'), zlib.gzipSync(''))
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0 })
    open.push(dlq)
    await dlq.log(1, 'x')
    expect(path.basename((await dlq.rotate())!)).toBe('orders.000000000005.log')
  })
})

describe('interval rotation', () => {
  it("rotateInterval '1s' seals the active segment on its own", async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateInterval: '1s' })
    open.push(dlq)
    const rotated: RotatedEvent[] = []
    dlq.on('rotated', (e) => rotated.push(e))
    await dlq.log({ p: 0, i: 0 }, 'tick')
    await until(() => sealedNames(dir).length > 0, 'an interval-sealed segment')
    await dlq.log({ p: 0, i: 1 }, 'tock')
    await dlq.close()
    const { items, perFile } = allItems(dir)
    expectEachOnce(items, 1, 2)
    // The first record is in a sealed segment, not the active file.
    const sealedItems = sealedNames(dir).flatMap((n) => perFile.get(n)!)
    expect(sealedItems).toContainEqual({ p: 0, i: 0 })
    expect(rotated.some((e) => e.kind === 'retry' && sealedNames(dir).includes(path.basename(e.path)))).toBe(true)
  })

  it('an interval with no records leaves no empty sealed segment', async () => {
    const dir = tmpDir()
    // Interval boundaries are observed, not waited out (see watchBoundaries).
    const boundaries = watchBoundaries()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateInterval: '1s', logger: boundaries.logger })
    open.push(dlq)
    const rotated: RotatedEvent[] = []
    dlq.on('rotated', (e) => rotated.push(e))
    // Two interval boundaries pass with nothing logged, each leaving nothing behind.
    await until(() => boundaries.empty() >= 4, 'two empty interval boundaries (retry and permanent log)')
    expect(sealedNames(dir)).toEqual([])
    expect(rotated).toEqual([])
    // Rotation is running all the same: a record gets sealed at the next boundary…
    await dlq.log({ p: 0, i: 0 }, 'x')
    await until(() => sealedNames(dir).length > 0, 'an interval-sealed segment')
    const kept = sealedNames(dir)[0]
    // …and the empty intervals after it leave nothing behind either.
    const before = boundaries.empty()
    await until(() => boundaries.empty() >= before + 2, 'an empty interval boundary after the record')
    await dlq.close()
    expect(sealedNames(dir)).toEqual([kept])
    expect(rotated).toHaveLength(1)
    expectEachOnce(allItems(dir).items, 1, 1)
  })

  it('interval rotation under a steady stream of writes loses and duplicates nothing', async () => {
    const dir = tmpDir()
    const dlq = await Logger.open(path.join(dir, 'orders.log'), { sealPollInterval: 0, rotateInterval: '1s' })
    open.push(dlq)
    let i = 0
    // Write until two interval rotations have sealed segments: records land before, across
    // and after each boundary, however slow the machine is.
    const deadline = Date.now() + 30_000
    while (sealedNames(dir).length < 2) {
      await Promise.all(Array.from({ length: 20 }, () => dlq.log({ p: 0, i: i++ }, 'x')))
      await new Promise((r) => setTimeout(r, 5))
      if (Date.now() > deadline) throw new Error('no interval rotation')
    }
    await dlq.close()
    expect(sealedNames(dir).length).toBeGreaterThanOrEqual(2)
    expectEachOnce(allItems(dir).items, 1, i)
  })
})
