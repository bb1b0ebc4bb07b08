/**
 * Requeue and purge through the API: the dry run changes nothing and counts, the real run
 * is a job whose result is the CLI's summary, and the counts the overview shows follow.
 */
import { fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { familyLines } from '../fixtures/cli-util.js'
import { buildLog, contents, get, post, serve, waitJob } from './helpers.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const counts = async (s: { url: string }) => (await get(s, '/api/logs/orders/counts')).json()

describe('dletter serve: actions', () => {
  it('requeue all matching a filter: dry run first, then the job, then the counts move', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const filter = { log: 'permanent', reason: 'timeout after', attempt: '5' }
    const before = contents(a.dir)
    const dry = await post(s, '/api/logs/orders/requeue', { ...filter, dryRun: true })
    expect(dry.status).toBe(200)
    expect(dry.json().summary).toMatchObject({ dryRun: true, count: 3, backend: { kept: 3 } })
    expect(dry.json().text).toMatch(/^dry run: would move 3 entries \(.*\) from the permanent log to the retry log; 3 would stay\. Nothing was changed\.$/)
    expect(contents(a.dir)).toEqual(before)
    // A body without dryRun is a dry run too: only an explicit false changes anything.
    expect((await post(s, '/api/logs/orders/requeue', filter)).json().summary.dryRun).toBe(true)

    const started = await post(s, '/api/logs/orders/requeue', { ...filter, dryRun: false, resetAttempts: true })
    expect(started.status).toBe(202)
    const job = await waitJob(s, started.json().job)
    expect(job).toMatchObject({ state: 'done', op: 'requeue', source: 'orders', error: null })
    expect(job.result.summary).toMatchObject({ dryRun: false, count: 3, backend: { kept: 3 }, resetAttempts: true, stopped: null })
    expect(job.result.text).toMatch(/^requeued 3 entries .* attempts reset to 1;/)
    expect(await counts(s)).toMatchObject({ pending: 6, permanent: 3 })
    const moved = familyLines(a.log, 'retry').filter((l) => l.includes('timeout after'))
    expect(moved).toHaveLength(3)
    expect(moved.every((l) => JSON.parse(l).attempt === 1)).toBe(true)
    // /metrics follows.
    expect((await get(s, '/metrics')).text).toContain(`dletter_permanent_items{log="${a.log}"} 3`)
  })

  it('requeue the selected ids; purge one id; purge the corrupt log', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const sel = await post(s, '/api/logs/orders/requeue', { log: 'permanent', ids: ['p0', 'p4', 'no-such'], dryRun: false })
    expect((await waitJob(s, sel.json().job)).result.summary.count).toBe(2)
    expect(await counts(s)).toMatchObject({ pending: 5, permanent: 4 })

    const dry = await post(s, '/api/logs/orders/purge', { log: 'permanent', id: '<b id=x>bold</b>', dryRun: true })
    expect(dry.json().text).toMatch(/^dry run: would remove 1 entry .* from the permanent log; 3 would stay/)
    const one = await post(s, '/api/logs/orders/purge', { log: 'permanent', id: '<b id=x>bold</b>', dryRun: false })
    const j = await waitJob(s, one.json().job)
    expect(j.result.summary).toMatchObject({ count: 1, kind: 'permanent' })
    expect(j.result.text).toMatch(/^removed 1 entry .* from the permanent log; 3 kept/)
    expect(familyLines(a.log, 'permanent').some((l) => l.includes('bold'))).toBe(false)

    const c = await post(s, '/api/logs/orders/purge', { log: 'corrupt', dryRun: false })
    expect((await waitJob(s, c.json().job)).result.summary).toMatchObject({ count: 2, kind: 'corrupt' })
    expect(await counts(s)).toMatchObject({ corrupt: 0, permanent: 3, pending: 5 })
  })

  it('counts read just before a change are not served after it (regression: a 1 s cache outlived the change)', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    expect(await counts(s)).toMatchObject({ permanent: 6, pending: 3 })
    const r = await post(s, '/api/logs/orders/purge', { log: 'permanent', id: 'p0', dryRun: false })
    expect((await waitJob(s, r.json().job)).result.count).toBe(1)
    expect(await counts(s)).toMatchObject({ permanent: 5, pending: 3 })
  })

  it('a job that fails reports why (the log is locked by a replay)', async () => {
    const a = buildLog(tmpDir())
    const s = await serve({ logs: [a.log], allowWrites: true })
    const holder = fork(path.join(here, 'fixtures', 'hold-replay-lock.ts'), [a.log], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    await new Promise((resolve, reject) => {
      holder.once('message', resolve)
      holder.once('exit', reject)
    })
    try {
      const r = await post(s, '/api/logs/orders/requeue', { log: 'permanent', dryRun: false })
      const j = await waitJob(s, r.json().job)
      expect(j.state).toBe('failed')
      expect(j.error.status).toBe(409)
      expect(j.error.error).toMatch(/replay/i)
    } finally {
      const gone = new Promise((resolve) => holder.once('exit', resolve))
      holder.send('release')
      await gone
    }
    expect(await counts(s)).toMatchObject({ permanent: 6 })
  })
})
