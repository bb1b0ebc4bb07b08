/**
 * `dletter replay` with a handler that throws poison values (an Error whose message is not a
 * string, a Proxy that throws on every trap, a null-prototype object): the run succeeds
 * (exit 0, not 3 "I/O error"), the items are re-logged with a reason, the others delivered.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'
import { familyLines, runCli } from './fixtures/cli-util.js'

const HANDLER = `export default (payload) => {
  if (payload.n === 1) { const e = new Error('x'); e.message = { not: 'a string' }; throw e }
  if (payload.n === 2) {
    const trap = () => { throw new Error('trap') }
    throw new Proxy({}, new Proxy({}, { get: () => trap }))
  }
  if (payload.n === 3) throw Object.assign(Object.create(null), { why: 'null prototype' })
}
`

describe('dletter replay with a poison-throwing handler', () => {
  it('exits 0, re-logs the failed items with string reasons and delivers the rest', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const dlq = await Logger.open(log, { sealPollInterval: 0 })
    for (let n = 0; n < 5; n++) await dlq.log({ n }, 'original', { id: `item-${n}` })
    await dlq.close()
    const handler = path.join(dir, 'handler.mjs')
    fs.writeFileSync(handler, HANDLER)

    const r = await runCli(['replay', log, '--handler', handler, '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ handled: 5, delivered: 2, requeued: 3, corrupt: 0 })
    const retry = familyLines(log, 'retry').map((l) => JSON.parse(l) as { id: string; reason: unknown })
    expect(retry.map((e) => e.id).sort()).toEqual(['item-1', 'item-2', 'item-3'])
    for (const e of retry) expect(typeof e.reason).toBe('string')
  })
})
