/**
 * One recovery for every entry point: a requeue SIGKILLed at a seeded point inside its
 * journaled rewrite, then settled by the library's `replay()`, by `dlq.replay()` on an open
 * Logger, and by the CLI's `replay`, each on its own copy of the crashed directory, ends in
 * the same files with the same items delivered, none lost and none doubled.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, replay } from '../src/index.js'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { Rng } from './helpers/rng.js'
import { envLine, familyLines, runCli, writeLines } from './fixtures/cli-util.js'

const SEGMENTS = 3
const PER_SEGMENT = 300
const PAD = 'x'.repeat(600)
const PHASES = ['journal-moving', 'item', 'synced', 'committed', 'renamed', 'source-deleted'] as const

/** id → whether the requeue selects it. */
function buildLog(dir: string): Map<string, boolean> {
  const ids = new Map<string, boolean>()
  const now = Date.now()
  for (let s = 1; s <= SEGMENTS; s++) {
    const lines: string[] = []
    for (let i = 0; i < PER_SEGMENT; i++) {
      const id = `e-${s}-${i}`
      const move = i % 3 === 0
      ids.set(id, move)
      lines.push(envLine({ ts: now - 1000, attempt: 5, reason: move ? `move me ${i}` : `keep me ${i}`, id, final: 'exhausted', payload: { s, i, pad: PAD } }))
    }
    writeLines(path.join(dir, `permanent-orders.${String(s).padStart(12, '0')}.log`), lines, { mtime: now - (SEGMENTS - s) * 60_000 })
  }
  return ids
}

/** Name → content hash of every non-empty file a log keeps (locks and the test's own files aside). */
function state(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of fs.readdirSync(dir).sort()) {
    if (n.endsWith('.lock') || n.endsWith('.mjs') || n === 'delivered.txt') continue
    const data = fs.readFileSync(path.join(dir, n))
    if (data.length > 0) out[n] = createHash('sha1').update(data).digest('hex')
  }
  return out
}

const permanentIds = (log: string) => familyLines(log, 'permanent').map((l) => (JSON.parse(l) as { id: string }).id)

describe('a crash mid-requeue is recovered the same way by every replay entry point', () => {
  it('library replay(), dlq.replay() and the CLI replay agree, and nothing is lost or doubled', { timeout: 240_000 }, async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31)
    console.log(`[admin-recovery] seed=${seed}`)
    const rng = new Rng(seed)
    const rand = () => rng.next()
    for (const phase of PHASES) {
      const crashed = tmpDir()
      const ids = buildLog(crashed)
      const segment = 1 + Math.floor(rand() * SEGMENTS)
      const item = (segment - 1) * PER_SEGMENT + 1 + Math.floor(rand() * PER_SEGMENT)
      const where = `${phase}@${segment}${phase === 'item' ? `#${item}` : ''} (seed ${seed})`
      const child = forkFixture('cli-rewrite-crash.ts', [path.join(crashed, 'orders.log'), 'requeue', '^move me', phase, String(segment), String(item)])
      const r = await exited(child)
      expect(r.signal, where).toBe('SIGKILL')
      expect(fs.existsSync(path.join(crashed, '.orders.log.rewrite')), where).toBe(true)

      const dirs = { lib: tmpDir(), logger: tmpDir(), cli: tmpDir() }
      for (const d of Object.values(dirs)) fs.cpSync(crashed, d, { recursive: true, preserveTimestamps: true })
      const delivered: Record<keyof typeof dirs, string[]> = { lib: [], logger: [], cli: [] }

      await replay(path.join(dirs.lib, 'orders.log'), (_p, env) => void delivered.lib.push(env.id!))
      const dlq = await Logger.open(path.join(dirs.logger, 'orders.log'))
      try {
        await dlq.replay((_p, env) => void delivered.logger.push(env.id!))
      } finally {
        await dlq.close()
      }
      const out = path.join(dirs.cli, 'delivered.txt')
      fs.writeFileSync(path.join(dirs.cli, 'handler.mjs'), `import fs from 'node:fs'\nexport default (_p, env) => fs.appendFileSync(${JSON.stringify(out)}, env.id + '\\n')\n`)
      const cli = await runCli(['replay', path.join(dirs.cli, 'orders.log'), '--handler', path.join(dirs.cli, 'handler.mjs'), '--json'])
      expect(cli.code, `${where}: ${cli.stderr}`).toBe(0)
      delivered.cli = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter(Boolean) : []

      expect(state(dirs.lib), where).toEqual(state(dirs.cli))
      expect(state(dirs.logger), where).toEqual(state(dirs.cli))
      expect([...delivered.lib].sort(), where).toEqual([...delivered.cli].sort())
      expect([...delivered.logger].sort(), where).toEqual([...delivered.cli].sort())
      expect(fs.existsSync(path.join(dirs.lib, '.orders.log.rewrite')), where).toBe(false)

      // Every entry once: delivered (it had been requeued) or still in the permanent log.
      const remaining = permanentIds(path.join(dirs.lib, 'orders.log'))
      const all = [...delivered.lib, ...remaining].sort()
      expect(all, where).toEqual([...ids.keys()].sort())
      for (const id of delivered.lib) expect(ids.get(id), `${where}: ${id} was not selected`).toBe(true)
    }
  })
})
