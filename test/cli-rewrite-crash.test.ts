/**
 * requeue and purge are crash-safe: runs over a large permanent log are SIGKILLed at every
 * step of the journaled rewrite (mid-write, after fsync, after commit, after the rename,
 * after the delete) and at moments the parent picks. After each kill no entry is missing
 * from the retry and permanent logs together; after a final run completes, every entry is
 * in exactly one place, moved ones reset, kept ones byte for byte.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, familyLines, runCli, writeLines } from './fixtures/cli-util.js'

const SEGMENTS = 6
const PER_SEGMENT = 2500
// ~700-byte records: a segment's kept entries exceed OutputFile's 1 MiB buffer, so a kill
// late in a segment leaves a partly written temp file behind.
const PAD = 'x'.repeat(600)

interface Built {
  log: string
  /** id → stored line */
  lines: Map<string, string>
  unparseable: string[]
}

function buildLog(dir: string): Built {
  const log = path.join(dir, 'orders.log')
  const lines = new Map<string, string>()
  const unparseable: string[] = []
  const now = Date.now()
  for (let s = 1; s <= SEGMENTS; s++) {
    const out: string[] = []
    for (let i = 0; i < PER_SEGMENT; i++) {
      const id = `e-${s}-${i}`
      const line = envLine({
        ts: now - 1000,
        attempt: 5,
        reason: i % 3 === 0 ? `move me ${i}` : `keep me ${i}`,
        id,
        firstTs: now - 5000,
        final: 'exhausted',
        payload: { s, i, pad: PAD },
      })
      lines.set(id, line)
      out.push(line)
      if (i === 1234) {
        const bad = `not an envelope, segment ${s}`
        unparseable.push(bad)
        out.push(bad)
      }
    }
    const file = path.join(dir, `permanent-orders.${String(s).padStart(12, '0')}.log`)
    writeLines(file, out, { mtime: now - (SEGMENTS - s) * 60_000 })
  }
  return { log, lines, unparseable }
}

interface Census {
  /** id → how many times it appears in the retry log / the permanent log */
  retry: Map<string, number>
  permanent: Map<string, number>
  permanentLines: string[]
  retryLines: string[]
}

function census(log: string): Census {
  const count = (lines: string[]) => {
    const m = new Map<string, number>()
    for (const l of lines) {
      if (!l.startsWith('{')) continue
      const id = (JSON.parse(l) as { id: string }).id
      m.set(id, (m.get(id) ?? 0) + 1)
    }
    return m
  }
  const retryLines = familyLines(log, 'retry')
  const permanentLines = familyLines(log, 'permanent')
  return { retry: count(retryLines), permanent: count(permanentLines), retryLines, permanentLines }
}

/** The invariant that must hold at every instant: nothing is in neither log. */
function expectNoneLost(b: Built, c: Census): void {
  const missing = [...b.lines.keys()].filter((id) => !c.retry.has(id) && !c.permanent.has(id))
  expect(missing).toEqual([])
  for (const bad of b.unparseable) expect(c.permanentLines).toContain(bad)
}

async function runFixture(b: Built, op: 'requeue' | 'purge', reason: string, phase: string, segment: number, item = 0, parentKillAt?: number) {
  const child = forkFixture('cli-rewrite-crash.ts', [b.log, op, reason, phase, String(segment), String(item)])
  let done = false
  child.on('message', (m: { segment?: number; done?: unknown }) => {
    if (m.done) done = true
    // The parent's own choice of moment: shortly after the child starts the chosen segment.
    if (parentKillAt !== undefined && m.segment === parentKillAt) setTimeout(() => child.kill('SIGKILL'), (segment * 7) % 25)
  })
  const res = await exited(child)
  return { ...res, done }
}

const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.includes('rewrite') || n.endsWith('.lock'))

describe('crash safety of requeue', () => {
  it('no entry is lost at any kill point, and a final requeue leaves each in exactly one log', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const reason = '^move me'
    // [phase, segment, item]: every window of the journaled rewrite.
    const kills: Array<[string, number, number]> = [
      ['item', 1, 2400], // temp files partly written, journal "moving" → rolled back
      ['synced', 2, 0], // temp files complete but not committed → rolled back
      ['committed', 1, 0], // committed, not yet renamed → rolled forward
      ['renamed', 2, 0], // outputs visible, source not yet deleted: briefly in both
      ['source-deleted', 1, 0], // only the journal left
      ['journal-moving', 1, 0], // journal written, nothing else
    ]
    const journal = path.join(dir, '.orders.log.rewrite')
    const retryTmp = path.join(dir, '.orders.log.rewrite-retry.tmp')
    const permTmp = path.join(dir, '.orders.log.rewrite-permanent.tmp')
    const state = () => (JSON.parse(fs.readFileSync(journal, 'utf8')) as { state: string }).state
    // What each kill must have left behind: proof that the run died in the window named.
    const leftBehind: Record<string, () => void> = {
      item: () => {
        expect(state()).toBe('moving')
        expect(fs.statSync(permTmp).size).toBeGreaterThan(0)
      },
      synced: () => {
        expect(state()).toBe('moving')
        expect(fs.existsSync(retryTmp) && fs.existsSync(permTmp)).toBe(true)
      },
      committed: () => {
        expect(state()).toBe('committed')
        expect(fs.existsSync(retryTmp) && fs.existsSync(permTmp)).toBe(true)
      },
      renamed: () => {
        expect(state()).toBe('committed')
        const c = census(b.log)
        expect([...c.retry.keys()].filter((id) => c.permanent.has(id)).length).toBe(Math.ceil(PER_SEGMENT / 3))
      },
      'source-deleted': () => {
        expect(state()).toBe('committed')
        expect(fs.existsSync(retryTmp) || fs.existsSync(permTmp)).toBe(false)
      },
      'journal-moving': () => expect(state()).toBe('moving'),
    }
    for (const [phase, segment, item] of kills) {
      const r = await runFixture(b, 'requeue', reason, phase, segment, item)
      expect(r.signal, `${phase}@${segment}`).toBe('SIGKILL')
      leftBehind[phase]()
      expectNoneLost(b, census(b.log))
    }
    // Kills at moments chosen from outside, anywhere in the run (including recovery and sealing).
    for (const segment of [1, 2, 3]) {
      const r = await runFixture(b, 'requeue', reason, 'none', 0, 0, segment)
      expect(r.signal === 'SIGKILL' || r.done).toBe(true)
      expectNoneLost(b, census(b.log))
    }

    const final = await runCli(['requeue', b.log, '--reason', reason, '--reset-attempts', '--json'])
    expect(final.code, final.stderr).toBe(0)
    expect(leftovers(dir)).toEqual([])

    const c = census(b.log)
    for (const [id, line] of b.lines) {
      const moves = /"reason":"move me/.test(line)
      expect([id, c.retry.get(id) ?? 0, c.permanent.get(id) ?? 0]).toEqual([id, moves ? 1 : 0, moves ? 0 : 1])
    }
    const expectedKept = [...b.lines.values()].filter((l) => !/"reason":"move me/.test(l))
    expect(c.permanentLines.filter((l) => l.startsWith('{')).sort()).toEqual(expectedKept.sort())
    expect(c.permanentLines.filter((l) => !l.startsWith('{')).sort()).toEqual([...b.unparseable].sort())
    for (const l of c.retryLines) {
      const e = JSON.parse(l) as { attempt: number; final?: string; id: string }
      expect(e.attempt).toBe(1)
      expect(e.final).toBeUndefined()
    }
    expect(c.retryLines).toHaveLength(SEGMENTS * Math.ceil(PER_SEGMENT / 3))
  })
})

describe('an interrupted rewrite is settled by the next replay too', () => {
  it('stats reports it; replay finishes it before replaying, so nothing stays in both logs', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const r = await runFixture(b, 'requeue', '^move me', 'renamed', 1)
    expect(r.signal).toBe('SIGKILL')
    const st = await runCli(['stats', b.log, '--json'])
    expect(JSON.parse(st.stdout).backend.interruptedRewrite).toMatchObject({ op: 'requeue', state: 'committed', source: 'permanent-orders.000000000001.log' })
    const both = census(b.log)
    expect([...both.retry.keys()].filter((id) => both.permanent.has(id))).toHaveLength(Math.ceil(PER_SEGMENT / 3))

    fs.writeFileSync(path.join(dir, 'ok.mjs'), 'export default async () => {}\n')
    const rep = await runCli(['replay', b.log, '--handler', path.join(dir, 'ok.mjs'), '--json'])
    expect(rep.code, rep.stderr).toBe(0)
    expect(JSON.parse(rep.stdout)).toMatchObject({ delivered: Math.ceil(PER_SEGMENT / 3) })
    expect(leftovers(dir)).toEqual([])
    const c = census(b.log)
    expect(c.retry.size).toBe(0)
    // Segment 1's moved entries were delivered and are gone from the permanent log; the rest is there once.
    const expected = [...b.lines.entries()].filter(([id, l]) => !(id.startsWith('e-1-') && /"reason":"move me/.test(l))).map(([, l]) => l)
    expect(c.permanentLines.filter((l) => l.startsWith('{')).sort()).toEqual(expected.sort())
  })
})

describe('crash safety of purge', () => {
  it('kept entries survive every kill; purged ones end up gone, kept ones exactly once', async () => {
    const dir = tmpDir()
    const b = buildLog(dir)
    const reason = '^move me'
    const keptIds = [...b.lines.keys()].filter((id) => !/"reason":"move me/.test(b.lines.get(id)!))
    const expectKeptPresent = () => {
      const c = census(b.log)
      expect(keptIds.filter((id) => !c.permanent.has(id))).toEqual([])
      for (const bad of b.unparseable) expect(c.permanentLines).toContain(bad)
      expect(c.retry.size).toBe(0)
    }
    for (const [phase, segment, item] of [
      ['item', 1, 2400],
      ['committed', 2, 0],
      ['renamed', 1, 0],
    ] as Array<[string, number, number]>) {
      const r = await runFixture(b, 'purge', reason, phase, segment, item)
      expect(r.signal, `${phase}@${segment}`).toBe('SIGKILL')
      expectKeptPresent()
    }
    const final = await runCli(['purge', b.log, '--permanent', '--reason', reason, '--yes', '--json'])
    expect(final.code, final.stderr).toBe(0)
    expect(leftovers(dir)).toEqual([])
    const c = census(b.log)
    expect(c.permanentLines.filter((l) => l.startsWith('{')).sort()).toEqual(keptIds.map((id) => b.lines.get(id)!).sort())
    expect(c.permanentLines.filter((l) => !l.startsWith('{')).sort()).toEqual([...b.unparseable].sort())
  })
})
