/**
 * A small fsync-mode run for the regression tests: `setup <root> <dir>` creates a directory;
 * `run <root> <log> <records> <rotateSize>` opens the log, logs, closes.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Logger } from '../../../src/index.js'
import { mark } from './mark.js'

const [phase, root, a, b, c] = process.argv.slice(2)
if (phase === 'setup') {
  fs.mkdirSync(path.join(root!, a!), { recursive: true })
} else {
  const dlq = await Logger.open(path.join(root!, a!), { durability: 'fsync', rotateSize: Number(c) })
  for (let n = 0; n < Number(b); n++) {
    const id = `s${String(n).padStart(3, '0')}`
    await dlq.log({ order: id, pad: 'x'.repeat(200) }, 'timeout', { id })
    mark('ack', id)
  }
  await dlq.close()
}
