/**
 * Regressions from a review that lost data in replay's crash recovery: a checkpoint or output
 * mark left by an earlier run must never decide where a later file starts or ends, and one
 * run creates one output file per family.
 *
 * Crashes are real: a child replays and SIGKILLs itself at a fixed instruction (the n-th
 * handler call, a given id, a given unlink), so each scenario is the same on every run.
 * Where the original proof relied on timing (a compressed segment's mtime landing after
 * later files), the mtimes are set by hand instead.
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { Logger, replay } from '../src/index.js'
import { exited, forkFixture } from './helpers/child.js'
import { tmpDir } from './helpers/tmp.js'
import { envLine, runCli } from './fixtures/cli-util.js'

const DAY = 86_400_000
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

interface ChildConfig {
  log: string
  side: string
  failIds?: string
  killIds?: string
  killAtCall?: number
  killAtUnlink?: string
  nowOffsetMs?: number
  options?: Record<string, unknown>
}

/** Runs test/fixtures/regress-replay-child.ts; the scenario only holds if it died by its own SIGKILL. */
async function crashingReplay(cfg: ChildConfig): Promise<{ calls: string[]; ok: string[] }> {
  const child = forkFixture('regress-replay-child.ts', [JSON.stringify(cfg)])
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  child.stdout!.resume()
  const { signal } = await exited(child)
  expect(signal, `the child must die at its planned kill point; stderr: ${stderr}`).toBe('SIGKILL')
  const lines = fs.existsSync(cfg.side) ? fs.readFileSync(cfg.side, 'utf8').split('\n').filter(Boolean) : []
  return {
    calls: lines.filter((l) => l.startsWith('call ')).map((l) => l.slice(5)),
    ok: lines.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3)),
  }
}

const setMtime = (file: string, ms: number) => fs.utimesSync(file, ms / 1000, ms / 1000)

/** Payload ids of the records a replay quarantined, read from the complete lines it kept aside. */
function quarantinedIds(dir: string): string[] {
  const corrupt = path.join(dir, 'corrupt-orders.log')
  if (!fs.existsSync(corrupt)) return []
  const out: string[] = []
  for (const l of fs.readFileSync(corrupt, 'utf8').split('\n').filter(Boolean)) {
    const rec = JSON.parse(l) as { rawFile?: string }
    if (rec.rawFile === undefined) continue
    const line = fs.readFileSync(path.join(dir, rec.rawFile), 'utf8').replace(/\n$/, '')
    out.push((JSON.parse(line) as { payload: { id: string } }).payload.id)
  }
  return out
}

it.each(['cron replay()', 'in-process Logger.replay()'])(
  'orphan checkpoint after a crash between removing a finished segment and its .state: the next segment sealed under that name loses nothing (%s)',
  async (via) => {
    const dir = tmpDir('dlq-regress-orphan-')
    const log = path.join(dir, 'orders.log')
    const side = path.join(dir, 'side.txt')
    let dlq = await Logger.open(log)
    for (const id of ids('old-', 5)) await dlq.log({ id }, 'boom', 1, { id })
    await dlq.close()

    const run1 = await crashingReplay({ log, side, killAtUnlink: 'orders.000000000001.log.state' })
    expect(run1.ok).toEqual(ids('old-', 5))
    // The orphan the scenario needs: the segment is gone, its checkpoint (at 5 records) is not.
    expect(fs.existsSync(path.join(dir, 'orders.000000000001.log'))).toBe(false)
    expect(fs.existsSync(path.join(dir, 'orders.000000000001.log.state'))).toBe(true)

    // Same record size as before, so the stale offset falls exactly on a line boundary of the
    // new file and could be resumed from without any warning.
    const fresh = ids('new-', 8)
    dlq = await Logger.open(log)
    for (const id of fresh) await dlq.log({ id }, 'boom', 1, { id })
    const got: string[] = []
    const handler = (p: unknown) => {
      got.push((p as { id: string }).id)
    }
    if (via === 'cron replay()') {
      await dlq.close()
      await replay(log, handler)
    } else {
      await dlq.replay(handler)
      await dlq.close()
    }
    expect([...new Set(got)].sort()).toEqual([...fresh].sort())
  },
)

it('orphan checkpoint of a replayer segment: entries that `dletter requeue` publishes under the same rN name are all replayed', async () => {
  const dir = tmpDir('dlq-regress-requeue-')
  const log = path.join(dir, 'orders.log')
  const side = path.join(dir, 'side.txt')
  const dlq = await Logger.open(log)
  for (const id of ids('a-', 4)) await dlq.log({ id }, 'boom', 1, { id })
  await dlq.close()
  // Run 1: every item fails once and is re-logged into orders.r000000000001.log.
  await replay(log, () => {
    throw new Error('down')
  })
  const r1 = path.join(dir, 'orders.r000000000001.log')
  const k = fs.statSync(r1).size

  // Permanent entries, the first padded to end exactly at byte k: were a requeued file named r1
  // resumed at r1's stale offset, it would start cleanly at the second entry.
  const now = Date.now()
  const perm = (id: string, pad: string) => envLine({ ts: now, attempt: 1, reason: 'boom', id, final: 'permanent', payload: { id, pad } })
  const first = perm('p-0', '')
  const lines = [perm('p-0', 'x'.repeat(k - 1 - Buffer.byteLength(first))), ...ids('p-', 6).slice(1).map((id) => perm(id, ''))]
  expect(Buffer.byteLength(lines[0]) + 1).toBe(k)
  fs.writeFileSync(path.join(dir, 'permanent-orders.log'), lines.join('\n') + '\n')

  // Run 2 delivers r1's items and dies between removing r1 and removing r1's checkpoint.
  const run2 = await crashingReplay({ log, side, killAtUnlink: 'orders.r000000000001.log.state', nowOffsetMs: DAY })
  expect(run2.ok.sort()).toEqual(ids('a-', 4))
  expect(fs.existsSync(r1)).toBe(false)
  expect(fs.existsSync(`${r1}.state`)).toBe(true)

  const rq = await runCli(['requeue', log, '--json'])
  expect(rq.code, rq.stderr).toBe(0)
  expect((JSON.parse(rq.stdout) as { count: number }).count).toBe(6)

  const got: string[] = []
  await replay(log, (p) => {
    got.push((p as { id: string }).id)
  })
  expect([...new Set(got)].sort()).toEqual(ids('p-', 6))
})

it('stale output mark of a partly replayed segment: a later run that reused the replayer file name keeps its re-logs after the next crash', async () => {
  const dir = tmpDir('dlq-regress-stale-mark-')
  const log = path.join(dir, 'orders.log')
  const side = path.join(dir, 'side.txt')
  const dlq = await Logger.open(log)
  for (const id of ids('a-', 20)) await dlq.log({ id }, 'boom', 1, { id })
  // Run 1 stops after 5 items: segment A keeps a checkpoint whose mark says r1 holds 5 re-logs.
  const s1 = await dlq.replay(
    () => {
      throw new Error('down')
    },
    { limit: 5 },
  )
  expect(s1.requeued).toBe(5)
  for (const id of ids('b-', 40)) await dlq.log({ id }, 'boom', 1, { id })
  await dlq.close()

  // A compressed A gets its mtime when compression ends, after r1 and the b-items were written:
  // replay order r1, B (still the active file), A.
  const t0 = Date.now() - 3_600_000
  setMtime(path.join(dir, 'orders.r000000000001.log'), t0)
  setMtime(log, t0 + 1000)
  setMtime(path.join(dir, 'orders.000000000001.log'), t0 + 2000)

  // Run 2 delivers r1 (removing it), fails every b-item (re-logged into this run's output)
  // and dies on A's first item, before A's next checkpoint.
  const run2 = await crashingReplay({
    log,
    side,
    failIds: '^b-',
    killIds: '^a-([5-9]|\\d\\d+)$',
    nowOffsetMs: DAY,
    options: { checkpointInterval: '1h' },
  })
  expect(run2.calls).toEqual([...ids('a-', 5), ...ids('b-', 40), 'a-5'])

  // Run 3: the b-items' re-logs are due a day and a second after run 2; two days is past that.
  const got = new Set<string>(run2.ok)
  await replay(
    log,
    (p) => {
      got.add((p as { id: string }).id)
    },
    { now: () => Date.now() + 2 * DAY },
  )
  const all = [...ids('a-', 20), ...ids('b-', 40)]
  expect(all.filter((id) => !got.has(id))).toEqual([])
})

it('stale output mark on the shared corrupt log: quarantine records committed by a later segment survive the next crash', async () => {
  const dir = tmpDir('dlq-regress-stale-corrupt-')
  const log = path.join(dir, 'orders.log')
  const side = path.join(dir, 'side.txt')
  const maxRecordSize = 1000
  const big = 'B'.repeat(2000)
  const dlq = await Logger.open(log)
  await dlq.log({ id: 'a-big', pad: big }, 'x', 1, { id: 'a-big' })
  for (const id of ids('a-', 20)) await dlq.log({ id }, 'x', 1, { id })
  // Run 1 stops after 5 items (a-big quarantined, a-0..a-3 delivered): A's mark names corrupt-orders.log.
  const got = new Set<string>()
  const s1 = await dlq.replay(
    (p) => {
      got.add((p as { id: string }).id)
    },
    { limit: 5, maxRecordSize },
  )
  expect(s1.corrupt).toBe(1)
  for (const id of ids('b-', 40)) await dlq.log({ id, pad: big }, 'x', 1, { id })
  await dlq.close()

  const t0 = Date.now() - 3_600_000
  setMtime(log, t0)
  setMtime(path.join(dir, 'orders.000000000001.log'), t0 + 1000)

  // Run 2 quarantines all of B, finishes and removes it, then dies on A's second item.
  const run2 = await crashingReplay({
    log,
    side,
    killIds: '^a-([5-9]|\\d\\d+)$',
    options: { maxRecordSize, checkpointInterval: '1h' },
  })
  expect(run2.calls).toEqual(['a-4', 'a-5'])
  expect(new Set(quarantinedIds(dir))).toEqual(new Set(['a-big', ...ids('b-', 40)]))

  for (const id of run2.ok) got.add(id)
  await replay(
    log,
    (p) => {
      got.add((p as { id: string }).id)
    },
    { maxRecordSize },
  )
  expect(ids('a-', 20).filter((id) => !got.has(id))).toEqual([])
  const kept = new Set(quarantinedIds(dir))
  expect(['a-big', ...ids('b-', 40)].filter((id) => !kept.has(id))).toEqual([])
})

it('crash before the first checkpoint of a run, after re-logs were flushed: duplicates stay within checkpointEvery + concurrency − 1', async () => {
  const dir = tmpDir('dlq-regress-dup-window-')
  const log = path.join(dir, 'orders.log')
  const side = path.join(dir, 'side.txt')
  const items = 150
  const checkpointEvery = 100
  const concurrency = 1
  // 20 kB per item: the re-log buffer passes its 1 MiB flush size long before checkpointEvery items.
  const pad = 'q'.repeat(20_000)
  const dlq = await Logger.open(log)
  for (const id of ids('i-', items)) await dlq.log({ id, pad }, 'x', 1, { id })
  await dlq.close()
  // Re-logs are not due during run 2 (an hour's wait), so run 2 only redoes what the crash cost.
  const options = { checkpointEvery, concurrency, checkpointInterval: '1h', initialWait: '1h', maxWait: '1h' }

  const run1 = await crashingReplay({ log, side, failIds: '.', killAtCall: checkpointEvery - 1, options })
  expect(run1.calls).toEqual(ids('i-', checkpointEvery - 1))

  const run2: string[] = []
  await replay(
    log,
    (p) => {
      run2.push((p as { id: string }).id)
      throw new Error('down')
    },
    options,
  )
  const run3: string[] = []
  await replay(
    log,
    (p) => {
      run3.push((p as { id: string }).id)
    },
    { now: () => Date.now() + 1e9 },
  )
  expect([...new Set(run3)].sort()).toEqual(ids('i-', items).sort())
  // Every item handled by the killed run and handled again, plus every second copy of a re-log.
  const redone = run1.calls.filter((id) => run2.includes(id)).length
  const extraCopies = run3.length - new Set(run3).size
  expect(redone + extraCopies).toBeLessThanOrEqual(checkpointEvery + concurrency - 1)
})

it('concurrent items passing the flush size before the first checkpoint: one replayer output file per family per run, no descriptor leaked', async () => {
  const dir = tmpDir('dlq-regress-double-create-')
  const log = path.join(dir, 'orders.log')
  const items = 600
  const pad = 'y'.repeat(8000)
  const dlq = await Logger.open(log)
  for (const id of ids('i-', items)) await dlq.log({ id, pad }, 'boom', 1, { id })
  await dlq.close()

  // Items fail in bunches of `concurrency`, all in one turn of the event loop: the bunch in
  // which the re-log buffer passes its flush size goes on appending while that flush waits for
  // its file to be created. (The timer only keeps a smaller bunch from waiting forever.)
  const concurrency = 8
  const waiting: (() => void)[] = []
  let fallback: NodeJS.Timeout | undefined
  const releaseAll = () => {
    clearTimeout(fallback)
    for (const go of waiting.splice(0)) go()
  }
  const fdsBefore = fs.readdirSync('/proc/self/fd').length
  const s = await replay(
    log,
    async () => {
      await new Promise<void>((r) => {
        waiting.push(r)
        if (waiting.length === concurrency) releaseAll()
        else if (waiting.length === 1) fallback = setTimeout(releaseAll, 200)
      })
      throw new Error('down')
    },
    { concurrency },
  )
  const fdsAfter = fs.readdirSync('/proc/self/fd').length
  expect(s.requeued).toBe(items)
  expect(fdsAfter).toBe(fdsBefore)

  const names = fs.readdirSync(dir)
  const retryOut = names.filter((n) => /^orders\.r\d+\.log$/.test(n))
  const permOut = names.filter((n) => /^permanent-orders\.r\d+\.log$/.test(n))
  expect(retryOut).toHaveLength(1)
  expect(permOut.length).toBeLessThanOrEqual(1)
  const relogged = fs
    .readFileSync(path.join(dir, retryOut[0]), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { payload: { id: string } }).payload.id)
  expect(relogged.sort()).toEqual(ids('i-', items).sort())
})
