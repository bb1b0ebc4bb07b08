/**
 * Reasons are cut to MAX_REASON_LENGTH characters with a visible marker, on log() and when
 * replay re-logs a failure, so a huge error message can never push a valid item's line over
 * maxRecordSize (where the next replay would quarantine it as corrupt).
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger, replay } from '../src/index.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { MAX_LABEL_LENGTH, MAX_REASON_LENGTH, truncateReason } from '../src/base/reason.js'
import { tmpDir } from './helpers/tmp.js'
import { corruptRecords, permanentRecords, retryRecords } from './fixtures/replay-util.js'

const HUGE = 20 * 1024 * 1024
const huge = (): string => 'x'.repeat(HUGE)
const MARKER = `… [truncated, ${HUGE} chars total]`

const open: Logger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => {})
})

async function openLog(): Promise<{ dlq: Logger; file: string }> {
  const file = path.join(tmpDir(), 'orders.log')
  const dlq = await Logger.open(file, { sealPollInterval: 0 })
  open.push(dlq)
  return { dlq, file }
}

describe('truncateReason', () => {
  it('leaves a reason of up to the cap alone', () => {
    const s = 'y'.repeat(MAX_REASON_LENGTH)
    expect(truncateReason(s)).toBe(s)
  })

  it('cuts a longer one to the cap and says how long it was', () => {
    const s = 'y'.repeat(MAX_REASON_LENGTH + 1)
    expect(truncateReason(s)).toBe(`${'y'.repeat(MAX_REASON_LENGTH)}… [truncated, ${MAX_REASON_LENGTH + 1} chars total]`)
  })

  it('never splits a surrogate pair at the cut', () => {
    const s = 'a'.repeat(MAX_REASON_LENGTH - 1) + '😀'.repeat(10)
    const cut = truncateReason(s)
    expect(cut.startsWith('a'.repeat(MAX_REASON_LENGTH - 1) + '…')).toBe(true)
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(cut)).toBe(false)
  })
})

describe('log() caps reasons', () => {
  it('a 20 MiB string reason is stored cut, with the marker, and the line fits the default maxRecordSize', async () => {
    const { dlq, file } = await openLog()
    await dlq.log({ n: 1 }, huge())
    await dlq.flush()
    const line = fs.readFileSync(file, 'utf8').split('\n')[0]
    const env = parseEnvelope(line)
    expect(env.reason).toBe('x'.repeat(MAX_REASON_LENGTH) + MARKER)
    expect(Buffer.byteLength(line)).toBeLessThan(dlq.options.maxRecordSize)
  })

  it('an Error with a 20 MiB message, name and code: all cut', async () => {
    const { dlq, file } = await openLog()
    const err = Object.assign(new Error(huge()), { code: 'E'.repeat(10_000) })
    err.name = 'N'.repeat(10_000)
    await dlq.logPermanent({ n: 1 }, err)
    await dlq.flush()
    const env = parseEnvelope(fs.readFileSync(dlq.paths.permanentActive, 'utf8').split('\n')[0])
    expect(env.reason).toBe('x'.repeat(MAX_REASON_LENGTH) + MARKER)
    expect(env.errorName).toBe(`${'N'.repeat(MAX_LABEL_LENGTH)}… [truncated, 10000 chars total]`)
    expect(env.errorCode).toBe(`${'E'.repeat(MAX_LABEL_LENGTH)}… [truncated, 10000 chars total]`)
    expect(fs.statSync(file).size).toBe(0)
  })

  it('a reason that fits the cap does not get a marker', async () => {
    const { dlq, file } = await openLog()
    const r = 'z'.repeat(MAX_REASON_LENGTH)
    await dlq.log(1, new Error(r))
    await dlq.flush()
    expect(parseEnvelope(fs.readFileSync(file, 'utf8').split('\n')[0]).reason).toBe(r)
  })
})

describe('replay caps the reasons it records', () => {
  it('a handler throwing a 20 MiB message: the item is re-logged, and the next replay delivers it', async () => {
    const { dlq, file } = await openLog()
    await dlq.log({ order: 42 }, 'first failure', { id: 'ord-42' })
    await dlq.close()
    const first = await replay(file, () => {
      throw new Error(huge())
    })
    expect(first).toMatchObject({ requeued: 1, corrupt: 0 })
    const [relogged] = retryRecords(file)

    const delivered: unknown[] = []
    const second = await replay(file, (p) => void delivered.push(p), { now: () => Date.now() + 3_600_000 })
    expect(second).toMatchObject({ delivered: 1, corrupt: 0 })
    expect(delivered).toEqual([{ order: 42 }])
    expect(corruptRecords(file)).toEqual([])
    expect(relogged.obj.reason).toBe('x'.repeat(MAX_REASON_LENGTH) + MARKER)
    expect(Buffer.byteLength(relogged.line)).toBeLessThan(64 * 1024)
  })

  it('the permanent record of an exhausted item carries the cut reason too', async () => {
    const { dlq, file } = await openLog()
    await dlq.log({ order: 7 }, 'first failure')
    await dlq.close()
    const s = await replay(
      file,
      () => {
        throw new Error(huge())
      },
      { maxAttempts: 2 },
    )
    expect(s).toMatchObject({ permanent: 1 })
    const [rec] = permanentRecords(file)
    expect(rec.obj).toMatchObject({ final: 'exhausted', reason: 'x'.repeat(MAX_REASON_LENGTH) + MARKER })
  })
})
