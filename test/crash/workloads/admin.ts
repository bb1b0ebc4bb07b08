/**
 * Workload 3: requeue and purge of the permanent log (journaled rewrites). argv: setup|run <root>.
 * Setup logs permanent records over several segments; the run requeues the timeouts and
 * purges the frauds. Every record but the purged ones must survive.
 */
import path from 'node:path'
import { Logger, purge, requeue } from '../../../src/index.js'
import { mark } from './mark.js'

const [phase, root] = process.argv.slice(2)
const log = path.join(root!, 'dlq', 'orders.log')
const REASONS = ['timeout', 'declined', 'fraud']
const N = 30
const id = (n: number) => `p${String(n).padStart(3, '0')}`

if (phase === 'setup') {
  const dlq = await Logger.open(log, { durability: 'fsync', rotateSize: 1536 })
  for (let n = 0; n < N; n++) await dlq.logPermanent({ order: id(n), pad: 'x'.repeat(20 + n) }, REASONS[n % 3], { id: id(n) })
  await dlq.close()
} else {
  for (let n = 0; n < N; n++) if (REASONS[n % 3] !== 'fraud') mark('ack', id(n))
  await requeue(log, { reason: 'timeout' })
  await purge(log, { kind: 'permanent', reason: 'fraud' })
}
