/**
 * A client that goes away mid-export ends the read: the export reports it stopped for the
 * client with fewer entries read than the log holds, and by then the log's file is closed
 * (the library's reader was returned, not left paused holding it).
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { openGet, watchExports, writeBigSegment } from './export-client.js'
import { serve } from './helpers.js'

const COUNT = 50_000

/** Files this process holds open (Linux: /proc/self/fd). */
function openFiles(): string[] {
  const out: string[] = []
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      out.push(fs.readlinkSync(`/proc/self/fd/${fd}`))
    } catch {}
  }
  return out
}

it('stops reading the log when the client disconnects', async () => {
  const watch = watchExports()
  try {
    const dir = tmpDir()
    const segment = path.join(dir, 'permanent-gone.000000000001.log')
    writeBigSegment(segment, COUNT, 600)
    const s = await serve({ logs: [path.join(dir, 'gone.log')] })
    const res = await openGet(`${s.url}/api/logs/gone/export?kind=permanent`)
    expect(res.statusCode).toBe(200)
    // Some of the body, then the client is gone.
    await new Promise<void>((resolve) => res.once('data', () => resolve()))
    expect(openFiles()).toContain(segment)
    res.destroy()
    const end = await watch.next('gone', (e) => e.event === 'end')
    expect(end.stopped).toBe('client')
    expect(end.entries).toBeGreaterThan(0)
    expect(end.entries).toBeLessThan(COUNT)
    expect(openFiles()).not.toContain(segment)
  } finally {
    watch.stop()
  }
})
