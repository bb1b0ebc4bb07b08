/**
 * Workload 4: ship a local log to the central store. argv: setup|run <root> <url> <schema>.
 * Setup logs retry and permanent records over several segments; the run ships them in small
 * batches. Only the local side is power-cut: a record must be in a local file or covered by a
 * COMMIT the client had seen by the crash point.
 */
import path from 'node:path'
import { Logger } from '../../../src/index.js'
import { PostgresStore } from '../../../src/postgres/index.js'
import { mark } from './mark.js'

const [phase, root, url, schema] = process.argv.slice(2)
const log = path.join(root!, 'dlq', 'orders.log')
const N = 32
const id = (n: number) => `q${String(n).padStart(3, '0')}`

if (phase === 'setup') {
  const dlq = await Logger.open(log, { durability: 'fsync', rotateSize: 1536 })
  for (let n = 0; n < N; n++) {
    const item = { order: id(n), pad: 'x'.repeat(20 + n) }
    if (n % 4 === 3) await dlq.logPermanent(item, 'declined', { id: id(n) })
    else await dlq.log(item, 'timeout', { id: id(n) })
  }
  await dlq.close()
} else {
  for (let n = 0; n < N; n++) mark('ack', id(n))
  const store = await PostgresStore.connect(url!, { schema: schema!, host: 'crash-host' })
  await store.ship(log, { batchSize: 4 })
  await store.close()
}
