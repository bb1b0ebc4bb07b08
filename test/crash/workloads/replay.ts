/**
 * Workload 2: a cron-style replay in this process while a writer process logs (fsync mode):
 * re-logs, moves to the permanent log, frequent checkpoints, a writer asked to seal, a line
 * to quarantine, and after the writer is gone, runs that seal its files themselves.
 * argv: setup|run <root>. The writer is this script again (argv: writer <root>), over IPC.
 */
import fs from 'node:fs'
import { fork } from 'node:child_process'
import path from 'node:path'
import { Logger, PermanentError, replay } from '../../../src/index.js'
import { mark } from './mark.js'

const [phase, root] = process.argv.slice(2)
const log = path.join(root!, 'dlq', 'orders.log')

/** By id, always the same: a third refused for good, a third failing once, the rest delivered. */
function handler(_payload: unknown, item: { id?: string; attempt: number }): void {
  const n = Number(item.id!.slice(1))
  if (n % 6 === 0) throw new PermanentError('refused')
  if (n % 6 <= 2 && item.attempt < 2) throw new Error('busy, try again')
  mark('dlv', item.id!)
}

const SETUP = 4

if (phase === 'setup') {
  const dlq = await Logger.open(log, { durability: 'fsync' })
  for (let n = 0; n < SETUP; n++) await dlq.log({ order: `g${n}` }, 'timeout', { id: `g${String(n).padStart(3, '0')}` })
  await dlq.close()
  // Not an envelope: the first replay quarantines it.
  fs.appendFileSync(log, 'not a record\n')
} else if (phase === 'writer') {
  const dlq = await Logger.open(log, { durability: 'fsync', rotateSize: 2048, sealPollInterval: 10 })
  let next = 0
  process.on('message', async (m: { log?: number; close?: true }) => {
    if (m.close) {
      await dlq.close()
      process.disconnect()
      return
    }
    for (let i = 0; i < m.log!; i++) {
      const id = `w${String(next++).padStart(3, '0')}`
      await dlq.log({ order: id, pad: 'x'.repeat(30 + ((next * 29) % 70)) }, `timeout ${next}`, { id })
      mark('ack', id)
    }
    process.send!('logged')
  })
  process.send!('ready')
} else {
  for (let n = 0; n < SETUP; n++) mark('ack', `g${String(n).padStart(3, '0')}`)
  const writer = fork(process.argv[1]!, ['writer', root!], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const next = () => new Promise<unknown>((resolve) => writer.once('message', resolve))
  const options = (round: number) => ({
    checkpointEvery: 2,
    concurrency: round % 2 === 0 ? 1 : 2,
    initialWait: 1,
    maxWait: 1,
    maxAttempts: 4,
    sealTimeout: 10_000,
  })
  await next()
  for (let round = 0; round < 3; round++) {
    writer.send({ log: 12 })
    await next()
    await replay(log, handler, options(round))
  }
  const gone = new Promise((resolve) => writer.once('exit', resolve))
  writer.send({ close: true })
  await gone
  for (let round = 3; round < 5; round++) await replay(log, handler, options(round))
}
