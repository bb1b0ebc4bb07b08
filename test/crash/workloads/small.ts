/**
 * A small fsync-mode run for the regression tests: `setup <root> <dir>` creates a directory;
 * `run <root> <log> <records> <rotateSize> [rotateInterval]` opens the log, logs, closes. With
 * an interval it logs `records` more once the interval timer has sealed the file.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { Logger } from '../../../src/index.js'
import { mark } from './mark.js'

const [phase, root, a, b, c, interval] = process.argv.slice(2)
if (phase === 'setup') {
  fs.mkdirSync(path.join(root!, a!), { recursive: true })
} else {
  const dlq = await Logger.open(path.join(root!, a!), { durability: 'fsync', rotateSize: Number(c), ...(interval ? { rotateInterval: interval } : {}) })
  let next = 0
  const logSome = async () => {
    for (let n = 0; n < Number(b); n++) {
      const id = `s${String(next++).padStart(3, '0')}`
      await dlq.log({ order: id, pad: 'x'.repeat(200) }, 'timeout', { id })
      mark('ack', id)
    }
  }
  await logSome()
  if (interval) {
    // The interval timer does not keep the process alive.
    const alive = setInterval(() => {}, 1000)
    await once(dlq, 'rotated')
    clearInterval(alive)
    await logSome()
  }
  await dlq.close()
}
