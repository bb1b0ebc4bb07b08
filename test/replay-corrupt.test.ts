/**
 * Corrupt input never blocks replay: each bad line is quarantined with where it came from,
 * and after a run every input line is accounted for exactly once.
 */
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Logger, PermanentError, replay } from '../src/index.js'
import { Replayer } from '../src/replay/index.js'
import { tmpDir } from './helpers/tmp.js'
import { corruptRecords, envLine, permanentRecords, retryRecords, writeSegment } from './fixtures/replay-util.js'

const NOW = 1_800_000_000_000

describe('corrupt lines are quarantined and replay goes on', () => {
  it('torn, garbage, invalid UTF-8, missing fields, wrong types, empty lines; CRLF is fine', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const parts: Array<{ bytes: Buffer; expect: 'ok' | RegExp; payload?: unknown }> = [
      { bytes: Buffer.from(envLine({ payload: 'first' })), expect: 'ok', payload: 'first' },
      { bytes: Buffer.from('{"ts":1000,"attempt":1,"reason":"x","payl'), expect: /invalid JSON/ },
      { bytes: Buffer.from('hello, I am not JSON'), expect: /invalid JSON/ },
      { bytes: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), expect: /invalid UTF-8/ },
      { bytes: Buffer.from('{"ts":1000,"reason":"x","payload":1}'), expect: /attempt/ },
      { bytes: Buffer.from('{"ts":"yesterday","attempt":1,"reason":"x","payload":1}'), expect: /"ts"/ },
      { bytes: Buffer.from('{"ts":1000,"attempt":1,"reason":"x"}'), expect: /payload/ },
      { bytes: Buffer.from('[1,2,3]'), expect: /not a JSON object/ },
      { bytes: Buffer.from(''), expect: /empty line/ },
      { bytes: Buffer.from(envLine({ payload: 'crlf' }) + '\r'), expect: 'ok', payload: 'crlf' },
      { bytes: Buffer.from(envLine({ payload: 'last' })), expect: 'ok', payload: 'last' },
    ]
    const torn = Buffer.from('{"ts":1000,"attempt":1,"rea')
    const content = Buffer.concat([...parts.flatMap((p) => [p.bytes, Buffer.from('\n')]), torn])
    writeSegment(log, 3, content)

    const got: unknown[] = []
    const corruptEvents: Array<{ offset: number; error?: string }> = []
    const r = new Replayer(log, (p) => {
      got.push(p)
    })
    r.on('corrupt', (e) => corruptEvents.push({ offset: e.offset, error: e.error }))
    const s = await r.run()
    expect(got).toEqual(['first', 'crlf', 'last'])
    const nCorrupt = parts.filter((p) => p.expect !== 'ok').length + 1
    expect(s).toMatchObject({ handled: parts.length + 1, delivered: 3, corrupt: nCorrupt, segmentsRemoved: 1 })

    const q = corruptRecords(log).map((x) => x.obj)
    expect(q).toHaveLength(nCorrupt)
    let off = 0
    const expected: Array<{ offset: number; bytes: Buffer; error: RegExp }> = []
    for (const p of parts) {
      if (p.expect !== 'ok') expected.push({ offset: off, bytes: p.bytes, error: p.expect })
      off += p.bytes.length + 1
    }
    expected.push({ offset: off, bytes: torn, error: /torn record at end of segment/ })
    expect(corruptEvents.map((e) => e.offset)).toEqual(expected.map((e) => e.offset))
    q.forEach((rec, i) => {
      const e = expected[i]
      expect(rec.segment).toBe('orders.000000000003.log')
      expect(rec.offset).toBe(e.offset)
      expect(rec.length).toBe(e.bytes.length)
      expect(String(rec.error)).toMatch(e.error)
      expect(typeof rec.ts).toBe('number')
      expect(rec.rawTruncated).toBe(false)
      const raw = rec.rawEncoding === 'base64' ? Buffer.from(String(rec.raw), 'base64') : Buffer.from(String(rec.raw), 'utf8')
      expect(raw.equals(e.bytes)).toBe(true)
    })
    expect(q[2].rawEncoding).toBe('base64') // the invalid UTF-8 line
    expect(q.filter((x) => x.rawEncoding === 'base64')).toHaveLength(1)
  })

  it('caps the raw text of a huge garbage line (but under maxRecordSize) and records its full length', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const garbage = '<' + 'g'.repeat(300_000) + '>'
    writeSegment(log, 1, [garbage, envLine({ payload: 'after' })])
    const got: unknown[] = []
    await replay(log, (p) => {
      got.push(p)
    })
    expect(got).toEqual(['after'])
    const [rec] = corruptRecords(log).map((x) => x.obj)
    expect(rec).toMatchObject({ offset: 0, length: garbage.length, rawTruncated: true, rawEncoding: 'utf8' })
    expect(String(rec.raw)).toBe(garbage.slice(0, 64 * 1024))
  })

  it('quarantines the torn record a crashed writer left, and delivers what was logged after the restart', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    fs.writeFileSync(log, envLine({ payload: 'before-crash' }) + '\n' + '{"ts":1000,"attempt":1,"reason":"x","payload":{"half')
    const dlq = await Logger.open(log, { sealPollInterval: 0 })
    try {
      await dlq.log('after-restart', 'y')
      const got: unknown[] = []
      const s = await dlq.replay((p) => {
        got.push(p)
      })
      expect(got).toEqual(['before-crash', 'after-restart'])
      expect(s.corrupt).toBe(1)
      expect(corruptRecords(log)[0].obj.raw).toBe('{"ts":1000,"attempt":1,"reason":"x","payload":{"half')
    } finally {
      await dlq.close()
    }
  })

  it('a CRLF line that fails is re-logged as a clean LF line', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    writeSegment(log, 1, envLine({ id: 'w', payload: { win: true } }) + '\r\n')
    await replay(log, () => {
      throw new Error('no')
    }, { now: () => NOW, random: () => 0 })
    const [rec] = retryRecords(log)
    expect(rec.line).toBe(
      `{"ts":${NOW},"attempt":2,"reason":"no","id":"w","firstTs":1000,"dueTs":${NOW + 1000},"firstReason":{"reason":"boom"},` +
        `"history":[{"ts":1000,"attempt":1,"reason":"boom"}],"payload":{"win":true}}`,
    )
  })

  it('a corrupt .gz costs only that file: lines before the damage are delivered, the rest quarantined, later segments replayed', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const lines = Array.from({ length: 20_000 }, (_, i) => envLine({ payload: i }))
    const gzFile = writeSegment(log, 1, lines, { gz: true, mtime: 1000 })
    const gz = fs.readFileSync(gzFile)
    fs.writeFileSync(gzFile, gz.subarray(0, Math.floor(gz.length / 2)))
    fs.utimesSync(gzFile, 1000, 1000)
    writeSegment(log, 2, [envLine({ payload: 'next-segment' })], { mtime: 2000 })
    const got: unknown[] = []
    const s = await replay(log, (p) => {
      got.push(p)
    })
    expect(got.length).toBeGreaterThan(1)
    expect(got.slice(0, -1)).toEqual(Array.from({ length: got.length - 1 }, (_, i) => i))
    expect(got[got.length - 1]).toBe('next-segment')
    expect(s.corrupt).toBe(1)
    const [rec] = corruptRecords(log).map((x) => x.obj)
    expect(String(rec.error)).toMatch(/unreadable compressed data/)
    // The damaged file is kept aside for a human, out of the segment namespace.
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('corrupt-orders.000000000001'))).toEqual(['corrupt-orders.000000000001.log.gz'])
    expect(fs.readdirSync(dir).filter((n) => /^orders\.\d/.test(n))).toEqual([])
  })

  it('a second damaged .gz of the same name is set aside next to the first, never over it', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const kept: Buffer[] = []
    for (const round of [1, 2]) {
      const gzFile = writeSegment(log, 1, Array.from({ length: 5000 }, (_, i) => envLine({ payload: `${round}-${i}` })), { gz: true })
      const damaged = fs.readFileSync(gzFile).subarray(0, 3000)
      fs.writeFileSync(gzFile, damaged)
      kept.push(damaged)
      expect((await replay(log, () => {})).corrupt).toBe(1)
    }
    expect(fs.readFileSync(path.join(dir, 'corrupt-orders.000000000001.log.gz')).equals(kept[0])).toBe(true)
    expect(fs.readFileSync(path.join(dir, 'corrupt-orders.000000000001.log.gz.1')).equals(kept[1])).toBe(true)
    // Each quarantine record names the file it kept.
    expect(corruptRecords(log).map((r) => String(r.obj.error).split('file kept as ')[1])).toEqual([
      'corrupt-orders.000000000001.log.gz',
      'corrupt-orders.000000000001.log.gz.1',
    ])
  })
})

type Kind = 'ok' | 'fail' | 'perm' | 'exhausted' | 'deferred' | 'garbage' | 'empty' | 'torn-json' | 'bad-utf8'

describe('nothing is dropped silently', () => {
  it('property: after a run, every input line is in exactly one of delivered / retry log / permanent log / corrupt log', async () => {
    const kinds: Kind[] = ['ok', 'fail', 'perm', 'exhausted', 'deferred', 'garbage', 'empty', 'torn-json', 'bad-utf8']
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom(...kinds), { minLength: 0, maxLength: 25 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 4 }),
        async (segments, gzFirst, concurrency) => {
          const dir = tmpDir()
          const log = path.join(dir, 'orders.log')
          // Each input line, keyed by a unique id (valid lines) or segment+offset (corrupt ones).
          const expectValid = new Map<string, Kind>()
          const expectCorrupt = new Set<string>()
          let n = 0
          segments.forEach((seg, si) => {
            const bufs: Buffer[] = []
            let off = 0
            for (const k of seg) {
              const id = `id${n++}`
              let b: Buffer
              switch (k) {
                case 'garbage':
                  b = Buffer.from(`garbage ${id}`)
                  break
                case 'empty':
                  b = Buffer.alloc(0)
                  break
                case 'torn-json':
                  b = Buffer.from(envLine({ id, payload: id }).slice(0, 20))
                  break
                case 'bad-utf8':
                  b = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])
                  break
                default:
                  b = Buffer.from(
                    envLine({ id, payload: { id, k }, attempt: k === 'exhausted' ? 5 : 1, dueTs: k === 'deferred' ? NOW + 1 : undefined }),
                  )
              }
              if (['garbage', 'empty', 'torn-json', 'bad-utf8'].includes(k)) expectCorrupt.add(`orders.${String(si + 1).padStart(12, '0')}.log@${off}`)
              else expectValid.set(id, k)
              bufs.push(b, Buffer.from('\n'))
              off += b.length + 1
            }
            writeSegment(log, si + 1, Buffer.concat(bufs), { gz: si === 0 && gzFirst, mtime: 1000 + si })
          })
          const delivered: string[] = []
          await replay(
            log,
            async (p) => {
              const { id, k } = p as { id: string; k: Kind }
              if (concurrency > 1) await new Promise((r) => setImmediate(r))
              if (k === 'fail') throw new Error('again')
              if (k === 'perm') throw new PermanentError('never')
              delivered.push(id)
            },
            { concurrency, now: () => NOW },
          )
          const where = new Map<string, string[]>()
          const add = (id: string, place: string) => where.set(id, [...(where.get(id) ?? []), place])
          for (const id of delivered) add(id, 'delivered')
          for (const r of retryRecords(log)) add(String(r.obj.id), 'retry')
          for (const r of permanentRecords(log)) add(String(r.obj.id), 'permanent')
          const quarantined = corruptRecords(log).map((r) => `${String(r.obj.segment)}@${String(r.obj.offset)}`)

          expect(new Set(where.keys())).toEqual(new Set(expectValid.keys()))
          for (const [id, places] of where) {
            expect(places).toHaveLength(1)
            const k = expectValid.get(id)!
            const want = k === 'ok' ? 'delivered' : k === 'fail' || k === 'deferred' ? 'retry' : 'permanent'
            expect(`${id}:${places[0]}`).toBe(`${id}:${want}`)
          }
          expect(quarantined.sort()).toEqual([...expectCorrupt].sort())
          // Drained input: only our own output files remain.
          expect(fs.readdirSync(dir).filter((f) => /^orders\.\d{12}\.log/.test(f) || f.endsWith('.state'))).toEqual([])
        },
      ),
      { numRuns: 40 },
    )
  })
})
