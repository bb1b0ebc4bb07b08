/**
 * An export of a large local log holds little memory: while the client reads nothing the
 * server stops reading once the socket is full (it says so on the export channel, with fewer
 * entries read than the log holds), and over the whole download live memory stays far below
 * the size of the data. Every entry arrives exactly once.
 */
import path from 'node:path'
import { expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { exportPausedThenAll, watchExports, writeBigSegment } from './export-client.js'
import { serve } from './helpers.js'

const COUNT = 200_000

it(`exports ${COUNT} entries with bounded memory, pausing while the client does not read`, async () => {
  const watch = watchExports()
  try {
    const dir = tmpDir()
    writeBigSegment(path.join(dir, 'permanent-big.000000000001.log'), COUNT, 600)
    const s = await serve({ logs: [path.join(dir, 'big.log')] })
    expect(s.sources[0]!.key).toBe('big')
    await exportPausedThenAll(s.url, '/api/logs/big/export?kind=permanent', 'big', watch, COUNT)
  } finally {
    watch.stop()
  }
}, 180_000)
