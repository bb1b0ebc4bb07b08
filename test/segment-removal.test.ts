/**
 * Every path that deletes a segment removes all of it — the plain file, its `.gz` twin, its
 * checkpoint (`.state`) and its count sidecar (`.meta`) — and then fsyncs the directory, so the
 * removal survives a power loss: drop-oldest eviction, permanent retention (maxBackups, maxAge),
 * the end of a replay, and shipping. Each runs in a child under strace, which shows the
 * unlinks and the fsync the kernel really saw.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { spawn, spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { writeCheckpoint } from '../src/store/checkpoint.js'
import { logPaths, metaPathOf, statePathOf } from '../src/store/segments.js'
import { envLine } from './fixtures/replay-util.js'
import { fixturesDir, killAfterTest } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

const hasStrace = spawnSync('strace', ['-V']).status === 0

/** X, X.gz, X.state and X.meta of a segment two hours old; returns X. */
async function plant(log: string, family: 'retry' | 'permanent'): Promise<string> {
  const p = logPaths(log)
  const fam = family === 'retry' ? p.retry : p.permanent
  const key = path.join(p.dir, `${fam.base}.000000000900${fam.ext}`)
  const body = Buffer.from([1, 2, 3].map((n) => envLine({ ts: Date.now(), payload: { n } }) + '\n').join(''))
  fs.writeFileSync(key, body)
  fs.writeFileSync(`${key}.gz`, zlib.gzipSync(body))
  await writeCheckpoint(statePathOf(key), { segment: path.basename(key), offset: 0, items: 0, updatedAt: 0 }, 0o600)
  fs.writeFileSync(metaPathOf(key), '{}\n')
  const old = Date.now() / 1000 - 7200
  for (const f of [key, `${key}.gz`]) fs.utimesSync(f, old, old)
  return key
}

interface Traced {
  code: number | null
  stderr: string
  /** strace lines: `<tid> <syscall>(…` */
  trace: string[]
}

/** Run the child under strace (unlinks and fsyncs, with the paths of file descriptors). */
async function traced(log: string, scenario: string, key: string, family: 'retry' | 'permanent'): Promise<Traced> {
  if (!hasStrace) throw new Error('strace is not installed: this test needs it to see the directory fsync')
  const out = path.join(tmpDir('dlq-strace-'), 'trace.txt')
  const child = killAfterTest(
    spawn(
      'strace',
      ['-f', '-qq', '-y', '-e', 'trace=unlink,unlinkat,fsync', '-o', out, process.execPath, '--import', 'tsx', path.join(fixturesDir, 'segment-removal-child.ts'), log, scenario, key],
      { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
    ),
  )
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  child.on('message', async (m) => {
    if (m === 'plant') {
      await plant(log, family)
      child.send('planted')
    }
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  return { code, stderr, trace: fs.readFileSync(out, 'utf8').split('\n') }
}

/**
 * The segment's files are gone, and the first unlink or fsync after the last of their unlinks
 * is an fsync of their directory.
 */
function expectRemovedAndSynced(key: string, t: Traced): void {
  expect(t.code, t.stderr).toBe(0)
  const files = [key, `${key}.gz`, statePathOf(key), metaPathOf(key)]
  for (const f of files) expect(fs.existsSync(f), f).toBe(false)
  const unlinkOf = (line: string) => files.find((f) => line.includes(`unlink(${JSON.stringify(f)}`) || line.includes(`, ${JSON.stringify(f)}`))
  let last = -1
  t.trace.forEach((l, i) => {
    if (/\b(unlink|unlinkat)\(/.test(l) && unlinkOf(l) !== undefined) last = i
  })
  expect(last, 'an unlink of the segment files').toBeGreaterThanOrEqual(0)
  // The sidecar goes last: whatever is left after a crash is at most a stale cache.
  expect(unlinkOf(t.trace[last])).toBe(metaPathOf(key))
  const next = t.trace.slice(last + 1).find((l) => /\b(unlink|unlinkat|fsync)\(/.test(l))
  expect(next, `after the last removal: ${t.trace.slice(last, last + 6).join('\n')}`).toMatch(new RegExp(`fsync\\(\\d+<${path.dirname(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>`))
}

describe('a removed segment takes its twin, checkpoint and sidecar, then the directory is fsynced', () => {
  for (const [scenario, family] of [
    ['evict', 'retry'],
    ['maxBackups', 'permanent'],
    ['maxAge', 'permanent'],
  ] as const) {
    it(`${scenario}: a Logger removing its oldest ${family} segment`, async () => {
      const log = path.join(tmpDir(), 'orders.log')
      const key = path.join(path.dirname(log), family === 'retry' ? 'orders.000000000900.log' : 'permanent-orders.000000000900.log')
      expectRemovedAndSynced(key, await traced(log, scenario, key, family))
    }, 60_000)
  }

  for (const scenario of ['replay', 'ship'] as const) {
    it(`${scenario}: a finished retry segment`, async () => {
      const log = path.join(tmpDir(), 'orders.log')
      const key = await plant(log, 'retry')
      expectRemovedAndSynced(key, await traced(log, scenario, key, 'retry'))
    }, 60_000)
  }
})
