/**
 * Workload 1: log() from several concurrent callers across rotations, compression on, two
 * application runs (the second reopens the log). argv: run <root> <durability>.
 */
import path from 'node:path'
import { Logger } from '../../../src/index.js'
import type { Durability } from '../../../src/base/options.js'
import { mark } from './mark.js'

const [, root, durability] = process.argv.slice(2)
const log = path.join(root!, 'dlq', 'orders.log')
const CALLERS = 4
const PER_CALLER = 24

for (const run of [1, 2]) {
  const dlq = await Logger.open(log, { durability: durability as Durability, rotateSize: 4096, compress: true })
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, c) => {
      for (let n = 0; n < PER_CALLER; n++) {
        const id = `r${run}c${c}n${n}`
        const item = { order: id, pad: 'x'.repeat(40 + ((n * 37) % 80)) }
        if (n % 7 === 3) await dlq.logPermanent(item, `declined ${n}`, { id })
        else await dlq.log(item, `timeout after ${n * 13} ms`, { id })
        mark('ack', id)
      }
    }),
  )
  await dlq.close()
}
