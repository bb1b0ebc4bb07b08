/**
 * Issue 17 (smaller): a writer killed while answering a seal request leaves
 * `.o.log.seal-done.tmp-<pid>-<n>` behind (a requester killed mid-request, a
 * `.seal-request.tmp-…`), and nothing used to remove it. The next writer (Logger.open) and
 * every recovery (replay, requeue, purge, ship) remove those of processes that are gone —
 * exactly those names, nothing else.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { Logger, replay } from '../src/index.js'
import { exited } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''])
  await exited(child)
  return child.pid!
}

function plant(dir: string, dead: number): { leftovers: string[]; keep: string[] } {
  const leftovers = [`.o.log.seal-done.tmp-${dead}-1`, `.o.log.seal-request.tmp-${dead}-7`]
  const keep = [
    `.o.log.seal-done.tmp-${process.pid}-1`, // a live process's, being written
    `.o.log.seal-done.tmp-${dead}`, // not our naming
    `.o.log.seal-done.tmp-${dead}-1.bak`,
    `.other.log.seal-done.tmp-${dead}-1`, // another log's
    `x.o.log.seal-done.tmp-${dead}-1`,
  ]
  for (const n of [...leftovers, ...keep]) fs.writeFileSync(path.join(dir, n), '{}')
  return { leftovers, keep }
}

const names = (dir: string) => new Set(fs.readdirSync(dir))

it('Logger.open removes the seal temp files of dead processes, and only those', async () => {
  const dir = tmpDir()
  const { leftovers, keep } = plant(dir, await deadPid())
  const dlq = await Logger.open(path.join(dir, 'o.log'), { sealPollInterval: 0 })
  await dlq.close()
  const after = names(dir)
  for (const n of leftovers) expect(after.has(n), n).toBe(false)
  for (const n of keep) expect(after.has(n), n).toBe(true)
})

it('so does the recovery a replay runs first', async () => {
  const dir = tmpDir()
  const { leftovers, keep } = plant(dir, await deadPid())
  await replay(path.join(dir, 'o.log'), () => {})
  const after = names(dir)
  for (const n of leftovers) expect(after.has(n), n).toBe(false)
  for (const n of keep) expect(after.has(n), n).toBe(true)
})
