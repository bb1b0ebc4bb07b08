import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { Logger, type LoggerOptions } from '../src/index.js'
import { listSegments, logPaths } from '../src/store/segments.js'
import { parseEnvelope } from '../src/format/envelope.js'
import { exited, forkFixture, killAfterTest } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { prng } from './fixtures/replay-util.js'


interface Scan {
  numbers: number[]
  unparseable: string[]
}

/** Every line of the active file and every sealed segment (as the library lists them). */
async function scan(file: string): Promise<Scan> {
  const paths = logPaths(file)
  const files = [...(await listSegments(paths.retry)).map((s) => s.path), paths.active]
  const out: Scan = { numbers: [], unparseable: [] }
  for (const f of files) {
    if (!fs.existsSync(f)) continue
    const buf = fs.readFileSync(f)
    const text = (f.endsWith('.gz') ? zlib.gunzipSync(buf) : buf).toString('utf8')
    for (const line of text.split('\n')) {
      if (line === '') continue
      try {
        out.numbers.push((parseEnvelope(line).payload as { n: number }).n)
      } catch {
        out.unparseable.push(`${path.basename(f)}: ${line.slice(0, 80)}`)
      }
    }
  }
  return out
}

/**
 * One seed per run, printed, so a failure reproduces with DLQ_TEST_SEED=<seed>: it picks each
 * iteration's kill point and the child's burst sizes.
 */
const SEED = Number(process.env.DLQ_TEST_SEED ?? Math.floor(Math.random() * 0x7fff_ffff) + 1)
console.log(`logger-crash: seed ${SEED} (rerun with DLQ_TEST_SEED=${SEED})`)

/**
 * Run the fixture and SIGKILL it once it has acknowledged `killAfter` records (a count, not a
 * delay: on a loaded machine a delay may pass before anything was logged). The kill still
 * lands wherever the child is at that moment: mid-batch, mid-write, mid-rotation.
 */
async function runAndKill(file: string, opts: LoggerOptions, seed: number, killAfter: number): Promise<number[]> {
  const child = forkFixture('log-loop.ts', [file, JSON.stringify(opts), String(seed)])
  killAfterTest(child)
  const acked: number[] = []
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const reached = new Promise<void>((resolve, reject) => {
    child.on('message', (m) => {
      if (Array.isArray(m)) acked.push(...(m as number[]))
      if (acked.length >= killAfter) resolve()
    })
    child.once('exit', (code, signal) => reject(new Error(`child exited early (${code ?? signal}): ${stderr}`)))
  })
  await reached
  child.kill('SIGKILL')
  const { signal } = await exited(child)
  expect(signal, `child should die by SIGKILL, stderr: ${stderr}`).toBe('SIGKILL')
  return acked
}

const variants: Array<{ name: string; opts: LoggerOptions }> = [
  { name: 'defaults', opts: {} },
  { name: 'size rotation', opts: { rotateSize: '64KiB' } },
  { name: 'fsync', opts: { durability: 'fsync' } },
  { name: 'rotation + compression', opts: { rotateSize: '64KiB', compress: true } },
  { name: 'small buffer (backpressure)', opts: { maxBufferedBytes: '64KiB' } },
  { name: 'defaults again', opts: {} },
]

describe('SIGKILL while logging', () => {
  for (const [k, v] of variants.entries()) {
    it(`iteration ${k + 1} (${v.name}): every acknowledged record survives, at most one torn line, appends resume cleanly`, async () => {
      const file = path.join(tmpDir(), 'orders.log')
      const rand = prng(SEED + k)
      const killAfter = 1 + Math.floor(rand() * 10_000)
      const acked = await runAndKill(file, v.opts, SEED + k, killAfter)
      expect(acked.length, 'the child acknowledged some records before the kill').toBeGreaterThan(0)

      const before = await scan(file)
      expect(before.unparseable.length, before.unparseable.join('\n')).toBeLessThanOrEqual(1)
      const present = new Set(before.numbers)
      const missing = acked.filter((n) => !present.has(n))
      expect(missing, 'acknowledged but missing').toEqual([])
      expect(present.size, 'no record written twice').toBe(before.numbers.length)

      // Re-open: the dead child's lock is reclaimed, a torn tail is isolated, and appends resume.
      const dlq = await Logger.open(file, { sealPollInterval: 0 })
      await dlq.log({ n: -1 }, 'after the crash')
      await dlq.close()
      // The new record is the last line of the active file, or of the newest sealed segment
      // when the crashed child left the active file past rotateSize (this write sealed it).
      const segs = await listSegments(logPaths(file).retry)
      const holder = [file, ...segs.filter((sg) => !sg.gz).map((sg) => sg.path).reverse()].find((f) =>
        fs.readFileSync(f, 'utf8').includes('"after the crash"'),
      )
      expect(holder, 'the record logged after the crash is in the active or newest segment').toBeDefined()
      if (holder !== file) expect(holder).toBe(segs.filter((sg) => sg.owner === 'writer').at(-1)!.path)
      const lines = fs.readFileSync(holder!, 'utf8').split('\n')
      expect(lines.at(-1)).toBe('')
      expect(parseEnvelope(lines.at(-2)!)).toMatchObject({ reason: 'after the crash', payload: { n: -1 } })

      const after = await scan(file)
      expect(after.unparseable).toEqual(before.unparseable)
      expect(after.numbers.filter((n) => n === -1)).toEqual([-1])
      const presentAfter = new Set(after.numbers)
      expect(acked.filter((n) => !presentAfter.has(n))).toEqual([])
      // Recovery settled any interrupted compression: no temp file, never both X and X.gz.
      const names = fs.readdirSync(path.dirname(file))
      expect(names.filter((n) => n.endsWith('.gz.tmp'))).toEqual([])
      for (const n of names) if (n.endsWith('.gz')) expect(names).not.toContain(n.slice(0, -3))
    })
  }
})
