/**
 * The entry page and the entry API show a corrupt record exactly as the listing (the library's
 * inspect()) gives it: the inspector reads it through the one entry decoder, not its own, so
 * a truncated quarantine record keeps `rawTruncated` and the side file holding its whole line.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { inspect } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { writeLines } from '../fixtures/cli-util.js'
import { get, serve } from './helpers.js'

describe('dletter serve: the entry page of a corrupt record', () => {
  it('shows the fields the listing has for the same line (rawTruncated, rawFile)', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const record = {
      ts: Date.now() - 5000,
      segment: 'orders.000000000003.log',
      offset: 4096,
      length: 20_000_000,
      error: 'record of 20000000 bytes exceeds maxRecordSize',
      rawEncoding: 'utf8',
      raw: '{"order": 1, "blob": "xxxx',
      rawTruncated: true,
      rawFile: 'corrupt-orders.000000000003.log.4096.line',
    }
    writeLines(path.join(dir, 'corrupt-orders.log'), [JSON.stringify(record)])
    const listed = []
    for await (const e of inspect(log, { kind: 'corrupt' })) listed.push(e)
    expect(listed).toHaveLength(1)
    expect(listed[0]).toMatchObject({ rawTruncated: true, rawFile: record.rawFile })

    const s = await serve({ logs: [log] })
    const rows = (await get(s, '/api/logs/orders/entries?kind=corrupt')).json().entries
    expect(rows.map((r: { ref: string }) => r.ref)).toEqual([listed[0].ref])
    const api = await get(s, `/api/logs/orders/entry?ref=${encodeURIComponent(listed[0].ref)}`)
    expect(api.status).toBe(200)
    expect(api.json()).toEqual(listed[0])

    const page = await get(s, `/logs/orders/entry?ref=${encodeURIComponent(listed[0].ref)}`)
    expect(page.status).toBe(200)
    expect(page.text).toContain('<th>raw truncated</th><td>yes: the quarantined bytes below are the start of the line</td>')
    expect(page.text).toContain(`<th>whole line kept in</th><td>${record.rawFile}</td>`)
    expect(page.text).toContain(`<th>quarantined from</th><td>${record.segment} @ ${record.offset} (${record.length} bytes)</td>`)
  })
})
