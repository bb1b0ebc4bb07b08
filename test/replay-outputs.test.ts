/**
 * The replay's output files: each one is reported (with the size it already has) before a
 * byte is written to it, so a checkpoint can name it and recovery never cuts below that size.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ReplayOutputs } from '../src/replay/outputs.js'
import { logPaths } from '../src/store/segments.js'
import { tmpDir } from './helpers/tmp.js'

const NOW = 1_800_000_000_000

describe('replay outputs', () => {
  it('report a shared file at its current size, and new segments at 0, before writing to them', async () => {
    const paths = logPaths(path.join(tmpDir(), 'orders.log'))
    const earlier = '{"ts":1,"segment":"x","offset":0,"length":1,"error":"earlier run"}\n'
    fs.writeFileSync(paths.corrupt, earlier)
    const opened: Array<[string, number, number]> = []
    const outs = new ReplayOutputs(paths, 0o600, NOW, (file, size) => {
      // What is on disk at that moment: nothing of ours yet.
      opened.push([path.basename(file), size, fs.statSync(file).size])
    }, 16 * 1024 * 1024)
    await outs.quarantine({ segment: 'orders.000000000001.log', offset: 0, raw: Buffer.from('junk'), length: 4, error: 'bad', truncated: false, ts: NOW })
    const header = { ts: NOW, attempt: 2, reason: 'down', firstTs: NOW }
    await outs.relog({ header: { ...header, dueTs: NOW + 1000 }, id: 'a', rawPayload: '1' })
    await outs.relog({ header: { ...header, dueTs: NOW + 6 * 3_600_000 }, id: 'b', rawPayload: '2' })
    await outs.sync()
    const size = Buffer.byteLength(earlier)
    expect(opened.sort()).toEqual([
      ['corrupt-orders.log', size, size],
      ['orders.r000000000001.log', 0, 0],
      ['orders.r000000000002.log', 0, 0],
    ].sort())
    expect(outs.marks().map((m) => m.file).sort()).toEqual(['corrupt-orders.log', 'orders.r000000000001.log', 'orders.r000000000002.log'])
    await outs.close()
    expect(fs.readFileSync(paths.corrupt, 'utf8').startsWith(earlier)).toBe(true)
    // Each sealed segment has its metadata.
    expect(fs.existsSync(path.join(paths.dir, 'orders.r000000000001.log.meta'))).toBe(true)
    expect(fs.existsSync(path.join(paths.dir, 'orders.r000000000002.log.meta'))).toBe(true)
  })
})
