import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  compressSegment,
  countLines,
  isolateTornTail,
  listSegments,
  logPaths,
  maxSeq,
  recoverSegments,
  sealActiveFile,
  segmentName,
  statePathOf,
} from '../src/store/segments.js'
import { tmpDir } from './helpers/tmp.js'

function randomBytesHex(n: number): string {
  return randomBytes(n / 2).toString('hex')
}

function touch(dir: string, name: string, content = 'x\n', mtimeMs?: number): string {
  const p = path.join(dir, name)
  fs.writeFileSync(p, content)
  if (mtimeMs !== undefined) fs.utimesSync(p, mtimeMs / 1000, mtimeMs / 1000)
  return p
}

describe('logPaths and naming', () => {
  it.each([
    'permanent-a.log', // would be a.log's permanent log
    'corrupt-a.log', // would be a.log's quarantine
    'orders.202411221200.log', // would look like a sealed segment of orders.log
    'orders.r000000000001.log',
    'orders.000000000001.jsonl', // … of orders.jsonl
    'orders.202411221200', // … of a log named `orders`
    '.orders.log', // lock and control files start with a dot
  ])('refuses %s as a log name: it would collide with another log in the same directory', (name) => {
    expect(() => logPaths(`/var/dlq/${name}`)).toThrow(expect.objectContaining({ code: 'DLQ_INVALID_ARGUMENT' }))
  })

  it.each(['orders.log', 'orders.x.log', 'orders.log.log', 'orders', 'orders-2024-11-22.log', 'orders.v2.jsonl'])('accepts %s', (name) => {
    expect(logPaths(`/var/dlq/${name}`).file).toBe(name)
  })

  it('derives every file of a log from its path', () => {
    const p = logPaths('/var/dlq/orders.log')
    expect(p).toMatchObject({
      dir: '/var/dlq',
      file: 'orders.log',
      name: 'orders',
      ext: '.log',
      active: '/var/dlq/orders.log',
      permanentActive: '/var/dlq/permanent-orders.log',
      corrupt: '/var/dlq/corrupt-orders.log',
      writerLock: '/var/dlq/.orders.log.lock',
      replayLock: '/var/dlq/.orders.log.replay.lock',
    })
    expect(p.retry.active).toBe('/var/dlq/orders.log')
    expect(p.permanent.active).toBe('/var/dlq/permanent-orders.log')
  })

  it('names sealed segments with a 12-digit sequence, separate namespaces for writer and replayer', () => {
    const { retry, permanent } = logPaths('/d/orders.log')
    expect(segmentName(retry, 'writer', 7)).toBe('orders.000000000007.log')
    expect(segmentName(retry, 'replayer', 3)).toBe('orders.r000000000003.log')
    expect(segmentName(permanent, 'writer', 12)).toBe('permanent-orders.000000000012.log')
    expect(statePathOf('/d/orders.000000000007.log')).toBe('/d/orders.000000000007.log.state')
  })

  it('handles a log without extension', () => {
    const p = logPaths('/d/jobs')
    expect(p.ext).toBe('')
    expect(segmentName(p.retry, 'writer', 1)).toBe('jobs.000000000001')
  })
})

describe('listSegments', () => {
  it('matches the exact pattern only, never a loose glob', async () => {
    const dir = tmpDir()
    const { retry } = logPaths(path.join(dir, 'orders.log'))
    const ok = ['orders.000000000001.log', 'orders.r000000000002.log', 'orders.000000000003.log.gz']
    const noise = [
      'orders.log', // active
      'orders.1.log', // wrong digit count
      'orders.0000000000001.log', // 13 digits
      'orders.000000000004.log.state',
      'orders.000000000005.log.gz.tmp',
      'orders.000000000006.log.bak',
      'xorders.000000000007.log',
      'orders-2.000000000008.log',
      'permanent-orders.000000000009.log',
      'orders.000000000010.txt',
    ]
    for (const n of [...ok, ...noise]) touch(dir, n)
    fs.mkdirSync(path.join(dir, 'orders.000000000011.log')) // a directory with our name is not a segment
    fs.symlinkSync(path.join(dir, 'orders.log'), path.join(dir, 'orders.000000000012.log')) // nor a symlink
    const segs = await listSegments(retry)
    expect(segs.map((s) => path.basename(s.path)).sort()).toEqual(ok.sort())
    const gz = segs.find((s) => s.gz)!
    expect(gz.key).toBe(path.join(dir, 'orders.000000000003.log'))
    expect(segs.find((s) => s.owner === 'replayer')!.seq).toBe(2)
  })

  it('sorts oldest first: by mtime, then writer before replayer, then sequence', async () => {
    const dir = tmpDir()
    const { retry } = logPaths(path.join(dir, 'orders.log'))
    const t = Date.now() - 100_000
    touch(dir, 'orders.000000000009.log', 'x\n', t)
    touch(dir, 'orders.000000000002.log', 'x\n', t + 5000)
    touch(dir, 'orders.r000000000001.log', 'x\n', t + 5000)
    touch(dir, 'orders.000000000001.log', 'x\n', t + 5000)
    touch(dir, 'orders.000000000010.log', 'x\n', t + 9000)
    const names = (await listSegments(retry)).map((s) => path.basename(s.path))
    expect(names).toEqual([
      'orders.000000000009.log',
      'orders.000000000001.log',
      'orders.000000000002.log',
      'orders.r000000000001.log',
      'orders.000000000010.log',
    ])
  })

  it('lists only X.gz when both X and X.gz exist', async () => {
    const dir = tmpDir()
    const { retry } = logPaths(path.join(dir, 'orders.log'))
    touch(dir, 'orders.000000000001.log')
    touch(dir, 'orders.000000000001.log.gz')
    const segs = await listSegments(retry)
    expect(segs.map((s) => path.basename(s.path))).toEqual(['orders.000000000001.log.gz'])
  })

  it('returns [] for a missing directory', async () => {
    const { retry } = logPaths(path.join(tmpDir(), 'nope', 'orders.log'))
    expect(await listSegments(retry)).toEqual([])
  })
})

describe('maxSeq', () => {
  it('counts compressed and in-compression files, per namespace', async () => {
    const dir = tmpDir()
    const { retry } = logPaths(path.join(dir, 'orders.log'))
    expect(await maxSeq(retry, 'writer')).toBe(0)
    touch(dir, 'orders.000000000003.log')
    touch(dir, 'orders.000000000005.log.gz')
    touch(dir, 'orders.000000000008.log.gz.tmp')
    touch(dir, 'orders.r000000000020.log')
    touch(dir, 'permanent-orders.000000000099.log')
    expect(await maxSeq(retry, 'writer')).toBe(8)
    expect(await maxSeq(retry, 'replayer')).toBe(20)
  })
})

describe('isolateTornTail', () => {
  it('appends a newline only when the last line is torn', async () => {
    const dir = tmpDir()
    const torn = touch(dir, 'a.log', '{"ok":1}\n{"torn":')
    const clean = touch(dir, 'b.log', '{"ok":1}\n')
    const empty = touch(dir, 'c.log', '')
    expect(await isolateTornTail(torn)).toBe(true)
    expect(fs.readFileSync(torn, 'utf8')).toBe('{"ok":1}\n{"torn":\n')
    expect(await isolateTornTail(torn)).toBe(false)
    expect(await isolateTornTail(clean)).toBe(false)
    expect(fs.readFileSync(clean, 'utf8')).toBe('{"ok":1}\n')
    expect(await isolateTornTail(empty)).toBe(false)
    expect(fs.statSync(empty).size).toBe(0)
    expect(await isolateTornTail(path.join(dir, 'missing.log'))).toBe(false)
  })
})

describe('sealActiveFile', () => {
  it('renames the active file to the next sequence, isolating a torn tail first', async () => {
    const dir = tmpDir()
    const { retry } = logPaths(path.join(dir, 'orders.log'))
    touch(dir, 'orders.log', 'a\nb')
    const sealed = await sealActiveFile(retry, async () => 4)
    expect(sealed).toBe(path.join(dir, 'orders.000000000004.log'))
    expect(fs.existsSync(retry.active)).toBe(false)
    expect(fs.readFileSync(sealed!, 'utf8')).toBe('a\nb\n')
  })

  it('returns null for a missing or empty active file without using a sequence', async () => {
    const dir = tmpDir()
    const { retry } = logPaths(path.join(dir, 'orders.log'))
    let used = 0
    const next = async () => ++used
    expect(await sealActiveFile(retry, next)).toBeNull()
    touch(dir, 'orders.log', '')
    expect(await sealActiveFile(retry, next)).toBeNull()
    expect(used).toBe(0)
    expect(fs.existsSync(retry.active)).toBe(true)
  })
})

describe('compressSegment and recoverSegments', () => {
  it('compresses to X.gz with the same content and removes X and the tmp', async () => {
    const dir = tmpDir()
    const content = Array.from({ length: 1000 }, (_, i) => `{"i":${i}}`).join('\n') + '\n'
    const x = touch(dir, 'orders.000000000001.log', content)
    const gz = await compressSegment(x, 0o600)
    expect(gz).toBe(`${x}.gz`)
    expect(zlib.gunzipSync(fs.readFileSync(gz)).toString('utf8')).toBe(content)
    expect(fs.readdirSync(dir)).toEqual(['orders.000000000001.log.gz'])
    expect(fs.statSync(gz).mode & 0o777).toBe(0o600)
    expect(await countLines({ path: gz, gz: true })).toBe(1000)
  })

  it('overwrites a stale tmp left by an earlier crash', async () => {
    const dir = tmpDir()
    const x = touch(dir, 'orders.000000000001.log', 'a\nb\n')
    fs.writeFileSync(`${x}.gz.tmp`, 'garbage from a crash')
    await compressSegment(x, 0o600)
    expect(zlib.gunzipSync(fs.readFileSync(`${x}.gz`)).toString()).toBe('a\nb\n')
    expect(fs.existsSync(`${x}.gz.tmp`)).toBe(false)
  })

  it('does not resurrect a segment removed while it was being compressed', async () => {
    const dir = tmpDir()
    // Incompressible-ish content so gzip takes a while.
    const x = touch(dir, 'orders.000000000001.log', randomBytesHex(8 * 1024 * 1024))
    const p = compressSegment(x, 0o600)
    // Once the tmp exists the source is open; unlinking its name is what a finishing replayer does.
    while (!fs.existsSync(`${x}.gz.tmp`)) await new Promise((r) => setImmediate(r))
    fs.unlinkSync(x)
    await p
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('recovery removes stale tmps and uncompressed duplicates, and reports what is left to compress', async () => {
    const dir = tmpDir()
    const { retry, permanent } = logPaths(path.join(dir, 'orders.log'))
    touch(dir, 'orders.000000000001.log') // + stale tmp
    touch(dir, 'orders.000000000001.log.gz.tmp', 'partial')
    touch(dir, 'orders.000000000002.log') // + complete gz: X is the duplicate
    fs.writeFileSync(path.join(dir, 'orders.000000000002.log.gz'), zlib.gzipSync('x\n'))
    touch(dir, 'orders.000000000003.log.gz')
    touch(dir, 'orders.r000000000004.log') // replayer-owned: not the writer's to compress
    touch(dir, 'permanent-orders.000000000001.log.gz.tmp') // other family: untouched
    const rep = await recoverSegments(retry)
    expect(rep.removedTmp).toEqual(['orders.000000000001.log.gz.tmp'])
    expect(rep.removedDuplicates).toEqual(['orders.000000000002.log'])
    expect(rep.uncompressed).toEqual([path.join(dir, 'orders.000000000001.log')])
    expect(fs.readdirSync(dir).sort()).toEqual([
      'orders.000000000001.log',
      'orders.000000000002.log.gz',
      'orders.000000000003.log.gz',
      'orders.r000000000004.log',
      'permanent-orders.000000000001.log.gz.tmp',
    ])
    expect((await recoverSegments(permanent)).removedTmp).toEqual(['permanent-orders.000000000001.log.gz.tmp'])
  })
})

describe('countLines', () => {
  it('counts newline-terminated lines, plain or gzip, and 0 for a missing file', async () => {
    const dir = tmpDir()
    const plain = touch(dir, 'a', 'x\ny\nz\n')
    const gz = path.join(dir, 'b.gz')
    fs.writeFileSync(gz, zlib.gzipSync('1\n2\n'))
    expect(await countLines({ path: plain, gz: false })).toBe(3)
    expect(await countLines({ path: gz, gz: true })).toBe(2)
    expect(await countLines({ path: path.join(dir, 'missing'), gz: false })).toBe(0)
  })
})
