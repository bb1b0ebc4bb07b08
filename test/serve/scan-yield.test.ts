/**
 * `dletter serve` answers while it scans. With a full scan of a long log under way (the reason
 * groups of the whole retry log; a filtered listing that matches nothing), a /metrics scrape,
 * a page and a static file asked for then each complete before the scan's own request does.
 *
 * The server is the real CLI in a process of its own. "Under way" is read from the kernel's
 * count of bytes that process has read (/proc/<pid>/io), which rises while its JavaScript is
 * busy, so the requests go out mid-scan whether or not the server is answering.
 */
import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { killAfterTest } from '../helpers/child.js'
import { tmpDir } from '../helpers/tmp.js'
import { startCli } from '../fixtures/cli-util.js'
import { writeLongScanLog } from '../fixtures/long-scan-log.js'
import { until } from '../fixtures/replay-util.js'
import { get, listening } from './helpers.js'

const ENTRIES = 200_000
/** Read by the scan before the other requests go out: a tenth of the log, well past its start. */
const UNDER_WAY_BYTES = 4 * 1024 * 1024

function bytesRead(pid: number): number {
  const m = /^rchar: (\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))
  if (!m) throw new Error(`no rchar in /proc/${pid}/io`)
  return Number(m[1])
}

const scans = {
  'reason groups': (key: string) => `/api/logs/${key}/groups?log=retry`,
  'a filtered listing': (key: string) => `/api/logs/${key}/entries?log=retry&order=oldest&reason=no-such-reason`,
}

describe('dletter serve during a long scan', () => {
  for (const [name, scanPath] of Object.entries(scans)) {
    it(`answers /metrics, a page and a static file before ${name} finish`, async () => {
      const { log } = writeLongScanLog(tmpDir(), ENTRIES)
      const cli = startCli(['serve', log, '--port', '0'])
      killAfterTest(cli.child)
      const url = await listening(cli)
      const s = { url }
      const key = (await get(s, '/api/sources')).json()[0].key as string
      // Counts computed (the segment read once for its metadata) before the scan starts.
      expect((await get(s, '/metrics')).status).toBe(200)

      const done: string[] = []
      const track = (label: string, p: Promise<Awaited<ReturnType<typeof get>>>) =>
        p.then((r) => {
          done.push(label)
          return r
        })
      const before = bytesRead(cli.child.pid!)
      const scan = track('scan', get(s, scanPath(key)))
      await until(() => bytesRead(cli.child.pid!) - before >= UNDER_WAY_BYTES, 30_000, 'the scan to be under way')
      const others = [track('metrics', get(s, '/metrics')), track('page', get(s, '/', { accept: 'text/html' })), track('static', get(s, '/static/app.js'))]
      const [scanRes, ...rest] = await Promise.all([scan, ...others])

      expect(scanRes.status, scanRes.text).toBe(200)
      for (const r of rest) expect(r.status, r.text).toBe(200)
      expect(rest[0].text).toMatch(/^dletter_pending_items\{log="[^"]+"\} 200000$/m)
      expect(done.indexOf('scan'), `completion order: ${done.join(', ')}`).toBe(3)
    })
  }
})
