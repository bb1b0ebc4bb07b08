/**
 * scanFiles newest first: one plain file's scan items last first — the items the forward scan gives
 * (records, unparseable lines, the active file's partial record), same offsets, reversed — and
 * a file that went away is skipped like the forward scan skips it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type ScanFile, type ScanItem, type ScanOptions, scanFiles } from '../src/store/scan.js'

const scanFileBackward = (file: ScanFile, opts: ScanOptions) => scanFiles([file], { ...opts, newestFirst: true })
import { envLine } from './fixtures/cli-util.js'
import { tmpDir } from './helpers/tmp.js'

const plain = (file: string, active: boolean, start = 0): ScanFile => ({ path: file, gz: false, size: fs.statSync(file).size, active, start, mtimeMs: 0 })
const brief = (it: ScanItem) => ({ kind: it.kind, offset: it.offset, line: 'line' in it ? it.line : undefined, error: 'error' in it ? it.error : undefined })

async function both(file: ScanFile, envelopes = true): Promise<{ fwd: ScanItem[]; back: ScanItem[] }> {
  const fwd: ScanItem[] = []
  const back: ScanItem[] = []
  await scanFiles([file], { maxRecordSize: 200, envelopes, onItem: (it) => void fwd.push(it) })
  const res = await scanFileBackward(file, { maxRecordSize: 200, envelopes, onItem: (it) => void back.push(it) })
  expect(res).toEqual({ stopped: false, errors: [] })
  return { fwd, back }
}

describe('scanFileBackward', () => {
  it('gives the forward items in reverse: CRLF, invalid UTF-8, junk, over-long, partial tail', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const r = (id: string) => envLine({ ts: 1, attempt: 1, reason: 'x', id, payload: null })
    fs.writeFileSync(file, Buffer.concat([Buffer.from(`${r('a')}\r\n`), Buffer.from([0xff, 0x0a]), Buffer.from(`junk\n\n${'y'.repeat(300)}\n${r('b')}\n${r('c').slice(0, 12)}`)]))
    for (const active of [true, false]) {
      for (const envelopes of [true, false]) {
        const { fwd, back } = await both(plain(file, active), envelopes)
        expect(back.map(brief)).toEqual(fwd.map(brief).reverse())
        expect(back[0].kind).toBe(active ? 'partial' : envelopes ? 'unparseable' : 'line')
      }
    }
    // From a checkpoint on.
    const start = Buffer.byteLength(`${r('a')}\r\n`) + 2
    const { fwd, back } = await both(plain(file, true, start))
    expect(back.map(brief)).toEqual(fwd.map(brief).reverse())
    expect(back.at(-1)).toMatchObject({ offset: start, kind: 'unparseable', line: 'junk' })
  })

  it('stops when onItem says false, and skips a file that is gone', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    fs.writeFileSync(file, 'a\nb\nc\n')
    const seen: string[] = []
    const res = await scanFileBackward(plain(file, false), { maxRecordSize: 10, envelopes: false, onItem: (it) => (seen.push((it as { line: string }).line), seen.length < 2) })
    expect(res.stopped).toBe(true)
    expect(seen).toEqual(['c', 'b'])
    const gone = plain(file, false)
    fs.unlinkSync(file)
    expect(await scanFileBackward(gone, { maxRecordSize: 10, onItem: () => {} })).toEqual({ stopped: false, errors: [] })
  })
})
