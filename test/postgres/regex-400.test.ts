/**
 * A regular expression JavaScript accepts and PostgreSQL rejects is bad input, not a database
 * failure: DLQ_INVALID_OPTION naming `reason` from every central operation (inspect, stats,
 * requeue, purge, dry runs included; on an empty table too, where no row reaches the
 * pattern), 400 from `dletter serve --db` over HTTP, exit 1 (usage) from the CLI.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { PostgresStore } from '../../src/postgres/index.js'
import { runCli } from '../fixtures/cli-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { get, post, serve, waitJob } from '../serve/helpers.js'
import { allEntries, byState, collect, rejection, seed, useCluster } from './setup.js'

const pg = useCluster()

// Named groups, Unicode property escapes (no `u` flag: JavaScript reads `\p` as `p`), and a
// repetition count over PostgreSQL's limit of 255.
const PATTERNS = [/(?<n>perm)/, new RegExp('\\p{L}+'), /a{1,300}/, /timeout(?<n>\d+)/i]

/** A database of its own, holding permanent and retry entries under the default schema (what the CLI and serve use). */
async function database(name: string): Promise<string> {
  const { default: pgClient } = await import('pg')
  const admin = new pgClient.Client(pg.url)
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = pg.url.replace(/\/postgres$/, `/${name}`)
  const dir = tmpDir()
  const logPath = path.join(dir, 'orders.log')
  const dlq = await Logger.open(logPath)
  for (let i = 0; i < 6; i++) {
    if (i % 2 === 0) await dlq.logPermanent({ i }, `permanent failure ${i}`, 3, { id: `o-${i}` })
    else await dlq.log({ i }, `timeout after ${i} ms`, 1, { id: `o-${i}` })
  }
  await dlq.close()
  const store = await PostgresStore.connect(url, { host: 'pod-1' })
  await store.ship(logPath)
  await store.close()
  return url
}

describe('a pattern PostgreSQL rejects is bad input', () => {
  it('every store operation rejects it with DLQ_INVALID_OPTION naming `reason`, full table or empty, and changes nothing', async () => {
    const full = await pg.store()
    await seed(full, tmpDir(), 6, { permanent: (i) => i % 2 === 0, reason: (i) => `timeout ${i}` })
    const empty = await pg.store()
    for (const store of [full, empty]) {
      for (const reason of PATTERNS) {
        const ops: Array<[string, () => Promise<unknown>]> = [
          ['inspect', () => collect(store.inspect({ reason }))],
          ['inspect permanent', () => collect(store.inspect({ kind: 'permanent', reason, order: 'newest' }))],
          ['stats', () => store.stats({ reason })],
          ['requeue dry run', () => store.requeue({ reason, dryRun: true })],
          ['requeue', () => store.requeue({ reason, kind: 'permanent' })],
          ['purge dry run', () => store.purge({ kind: 'permanent', reason, dryRun: true })],
          ['purge', () => store.purge({ kind: 'permanent', reason })],
          ['purge corrupt', () => store.purge({ kind: 'corrupt', reason })],
        ]
        for (const [op, fn] of ops) {
          const e = await rejection(fn)
          expect(e.code, `${op} ${reason}`).toBe('DLQ_INVALID_OPTION')
          expect(e.message, `${op} ${reason}`).toMatch(/option `reason`.*regular expression/)
        }
      }
    }
    expect((await byState(full))).toMatchObject({ retry: 3, permanent: 3, purged: 0 })
    // The same patterns with PostgreSQL's spelling work.
    expect(await allEntries(full, { reason: /(perm|timeout) [[:digit:]]+$/ })).toHaveLength(6)
  })

  it('dletter serve --db answers 400 with the code, on pages, the API, dry runs and jobs', async () => {
    const url = await database('regex_http')
    const s = await serve({ db: url, allowWrites: true })
    for (const reason of PATTERNS.map((r) => r.source)) {
      const q = `log=permanent&re=1&reason=${encodeURIComponent(reason)}`
      for (const p of [`/api/logs/central/entries?${q}`, `/api/logs/central/groups?${q}`]) {
        const r = await get(s, p)
        expect(r.status, p).toBe(400)
        expect(r.json(), p).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
        expect(r.json().error, p).toMatch(/reason/)
      }
      const page = await get(s, `/logs/central/entries?${q}`)
      expect(page.status).toBe(400)
      expect(page.text).toMatch(/regular expression/)
      for (const action of ['requeue', 'purge']) {
        const dry = await post(s, `/api/logs/central/${action}`, { log: 'permanent', re: true, reason, dryRun: true })
        expect(dry.status, action).toBe(400)
        expect(dry.json(), action).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
        const started = await post(s, `/api/logs/central/${action}`, { log: 'permanent', re: true, reason, dryRun: false })
        expect(started.status, action).toBe(202)
        const job = await waitJob(s, started.json().job)
        expect(job, action).toMatchObject({ state: 'failed', error: { code: 'DLQ_INVALID_OPTION', status: 400 } })
      }
    }
    // A good pattern still works over the same server.
    const ok = await get(s, `/api/logs/central/entries?log=permanent&re=1&reason=${encodeURIComponent('^permanent failure [0-9]$')}`)
    expect(ok.status).toBe(200)
    expect(ok.json().entries).toHaveLength(3)
  })

  // Sixteen CLI processes one after another: on a loaded 2-core machine that alone took 150 s.
  it('the CLI exits 1 (usage) naming --reason', { timeout: 300_000 }, async () => {
    const url = await database('regex_cli')
    const runs = [
      ['inspect', '--db', url, '--permanent', '--json'],
      ['requeue', '--db', url, '--dry-run'],
      ['requeue', '--db', url],
      ['purge', '--db', url, '--permanent', '--dry-run'],
      ['purge', '--db', url, '--permanent', '--yes'],
    ]
    for (const args of runs) {
      for (const reason of ['(?<n>perm)', '\\p{L}+', 'a{1,300}']) {
        const r = await runCli([...args, '--reason', reason])
        expect(r.code, `${args.join(' ')} --reason ${reason}: ${r.stderr}`).toBe(1)
        expect(r.stderr).toMatch(/--reason/)
        expect(r.stderr).not.toMatch(/DLQ_DB|database/)
      }
    }
    const good = await runCli(['inspect', '--db', url, '--permanent', '--json', '--reason', '^permanent failure'])
    expect(good.code).toBe(0)
    expect(good.stdout.trim().split('\n')).toHaveLength(3)
  })
})
