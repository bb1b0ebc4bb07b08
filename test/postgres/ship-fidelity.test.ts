/**
 * What is shipped comes back as it was logged: payloads, reasons, ids and error fields full
 * of the characters that need escaping on the way (quotes, backslashes, control characters,
 * non-BMP text, `\u0000`), in batches large enough to span several insert statements.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { Rng } from '../helpers/rng.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, useCluster } from './setup.js'

const pg = useCluster()

const PIECES = ['"', '\\', "'", '\n', '\t', '\r', '\u0001', '\u001f', '\u007f', '\u2028', 'é', '€', '😀', '{', '}', '[', ']', ',', ':', 'null', '\\u0041', ' ', 'a', 'Z', '0']

function text(r: Rng, max: number): string {
  let s = ''
  for (let i = r.int(0, max); i > 0; i--) s += r.pick(PIECES)
  return s
}

function payload(r: Rng, depth = 0): unknown {
  switch (r.int(0, depth > 2 ? 3 : 5)) {
    case 0:
      return text(r, 12)
    case 1:
      return r.int(-1_000_000, 1_000_000) / (r.chance(0.5) ? 1 : 8)
    case 2:
      return r.pick([true, false, null])
    case 3:
      return r.pick(['', 0, -0.5, 1e21, 'x'.repeat(r.int(0, 300))])
    case 4:
      return Array.from({ length: r.int(0, 4) }, () => payload(r, depth + 1))
    default: {
      const o: Record<string, unknown> = {}
      for (let i = r.int(0, 4); i > 0; i--) o[text(r, 6)] = payload(r, depth + 1)
      return o
    }
  }
}

describe('ship fidelity', () => {
  it('payloads, reasons, ids and error fields come back as logged', async () => {
    const seed = Number(process.env.DLQ_SEED ?? Date.now() % 1_000_000)
    console.log(`ship fidelity seed: ${seed} (DLQ_SEED=${seed} to repeat)`)
    const r = new Rng(seed)
    const dir = tmpDir()
    const logPath = path.join(dir, 'orders.log')
    const dlq = await Logger.open(logPath)
    const logged = new Map<string, { payload: unknown; reason: string; errorName?: string; errorCode?: string }>()
    for (let i = 0; i < 2500; i++) {
      const id = `${i}:${text(r, 5)}`
      const p = { i, v: payload(r) }
      if (r.chance(0.3)) {
        const err = Object.assign(new Error(text(r, 20)), { code: text(r, 4) })
        err.name = `E${text(r, 3)}`
        await dlq.log(p, err, { id })
        logged.set(id, { payload: p, reason: err.message, errorName: err.name, errorCode: err.code })
      } else {
        const reason = text(r, 20)
        await dlq.log(p, reason, { id })
        logged.set(id, { payload: p, reason })
      }
    }
    // jsonb cannot hold U+0000: such a payload travels as the raw line and must still come back.
    await dlq.log({ s: 'a\u0000b', q: '"\\' }, 'nul', { id: 'nul' })
    logged.set('nul', { payload: { s: 'a\u0000b', q: '"\\' }, reason: 'nul' })
    await dlq.close()

    const store = await pg.store()
    expect(await store.ship(logPath, { batchSize: 700 })).toMatchObject({ shipped: logged.size, retry: logged.size })
    const rows = await allEntries(store)
    expect(rows).toHaveLength(logged.size)
    for (const e of rows) {
      const want = logged.get(e.id!)
      expect(want, `id ${JSON.stringify(e.id)}`).toBeDefined()
      // Through JSON both ways, as a local replay would hand it to a handler (-0 → 0).
      expect(e.payload).toEqual(JSON.parse(JSON.stringify(want!.payload)))
      expect(e.reason).toBe(want!.reason)
      if (want!.errorName !== undefined) expect(e).toMatchObject({ errorName: want!.errorName, errorCode: want!.errorCode })
    }
  })
})
