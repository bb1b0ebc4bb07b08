/**
 * The central store as a source: entries shipped from two hosts into an in-process PGlite
 * (the same PostgresStore as a real server), served with their hosts: counts and /metrics
 * per host, listing and filters, an entry page, groups, and a requeue with its dry run.
 */
import { PGlite } from '@electric-sql/pglite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresStore, type PGliteLike } from '../../src/postgres/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { buildLog, get, post, serve, waitJob } from './helpers.js'

const dbs: PGlite[] = []

/** A fresh in-process database holding the entries of buildLog() shipped from web-1 and web-2. */
async function fleet(): Promise<PGliteLike> {
  const db = new PGlite()
  dbs.push(db)
  const target = db as unknown as PGliteLike
  for (const host of ['web-1', 'web-2']) {
    const store = await PostgresStore.connect(target, { host })
    await store.ship(buildLog(tmpDir()).log)
    await store.close()
  }
  return target
}

describe('dletter serve --db (central store)', () => {
  // Starting an in-process PostgreSQL takes seconds: the read-only tests share one.
  let shared: PGliteLike
  beforeAll(async () => {
    shared = await fleet()
  }, 120_000)
  afterAll(async () => {
    for (const db of dbs.splice(0)) await db.close()
  })

  it('counts per host on the overview and in /metrics', async () => {
    const s = await serve({ db: shared })
    expect((await get(s, '/api/sources')).json()).toEqual([{ key: 'central', label: 'central store (embedded)', kind: 'store', hasHosts: true }])
    const c = (await get(s, '/api/logs/central/counts')).json()
    expect(c).toMatchObject({ pending: 6, due: 4, deferred: 2, permanent: 12, corrupt: 4 })
    expect(c.hosts.map((h: any) => [h.host, h.pending, h.due, h.permanent, h.corrupt])).toEqual([
      ['web-1', 3, 2, 6, 2],
      ['web-2', 3, 2, 6, 2],
    ])
    const m = (await get(s, '/metrics')).text
    expect(m).toContain('dletter_pending_items{log="central store (embedded)",host="web-1"} 3')
    expect(m).toContain('dletter_permanent_items{log="central store (embedded)",host="web-2"} 6')
    expect(m).toMatch(/dletter_oldest_pending_age_seconds\{log="central store \(embedded\)",host="web-1"\} \d/)
    const page = await get(s, '/')
    expect(page.text).toContain('<caption>per host</caption>')
    const o = (await get(s, '/api/overview')).json()
    expect(o.sources[0].reasons.permanent[0]).toMatchObject({ fingerprint: 'timeout after <n>ms', count: 6 })
  })

  it('lists, filters by host, pages, shows an entry, groups — hostile text escaped', async () => {
    const s = await serve({ db: shared })
    const all = (await get(s, '/api/logs/central/entries?log=permanent&order=oldest')).json()
    expect(all.entries).toHaveLength(12)
    // The permanent log opens newest first, as a local one does; pages come from either end.
    const latest = (await get(s, '/api/logs/central/entries?log=permanent&size=5')).json()
    expect(latest.entries).toHaveLength(5)
    expect(latest.entries.every((e: any) => /^\d+$/.test(e.ref))).toBe(true)
    expect(latest.entries.map((e: any) => e.ref)).toEqual(all.entries.slice(-5).reverse().map((e: any) => e.ref))
    const latest2 = (await get(s, '/api/logs/central/entries?log=permanent&size=5&page=2')).json()
    expect(latest2.entries.map((e: any) => e.ref)).toEqual(all.entries.slice(-10, -5).reverse().map((e: any) => e.ref))
    const web2 = (await get(s, '/api/logs/central/entries?log=permanent&host=web-2&size=4')).json()
    expect(web2.entries.every((e: any) => e.host === 'web-2')).toBe(true)
    expect(web2.entries).toHaveLength(4)
    expect(web2.more).toBe(true)
    const p2 = (await get(s, '/api/logs/central/entries?log=permanent&host=web-2&size=4&page=2')).json()
    expect(p2.entries).toHaveLength(2)
    expect(new Set([...web2.entries, ...p2.entries].map((e: any) => e.id)).size).toBe(6)
    // The store matches a payload in jsonb's text form, `{"order": 5}` (docs/inspector.md).
    const byPayload = (await get(s, '/api/logs/central/entries?log=permanent&payload=%22order%22%3A%205')).json()
    expect(byPayload.entries.map((e: any) => [e.host, e.id]).sort()).toEqual([['web-1', 'p4'], ['web-2', 'p4']])
    const re = (await get(s, `/api/logs/central/entries?log=permanent&re=1&reason=${encodeURIComponent('^timeout after [0-9]{4}ms$')}`)).json()
    expect(re.entries).toHaveLength(4)

    const groups = (await get(s, '/api/logs/central/groups?log=permanent&host=web-1')).json()
    expect(groups.matched).toBe(6)
    expect(groups.groups[0]).toMatchObject({ fingerprint: 'timeout after <n>ms', count: 3 })

    const hostile = all.entries.find((e: any) => e.id === '<b id=x>bold</b>')
    const entry = await get(s, `/logs/central/entry?ref=${encodeURIComponent(hostile.ref)}`)
    expect(entry.status).toBe(200)
    expect(entry.text).toContain('&lt;img src=x onerror=')
    expect(entry.text).not.toContain('<img src=x')
    expect(entry.text).toContain(`<th>host</th><td>${hostile.host}</td>`)
    const full = (await get(s, `/api/logs/central/entry?ref=${encodeURIComponent(hostile.ref)}`)).json()
    expect(full.payload).toEqual({ html: '<img src=x onerror="window.__xss=1">', script: '<script>window.__xss=2</script>' })
    expect((await get(s, '/api/logs/central/entry?ref=999999')).status).toBe(404)
    expect((await get(s, '/api/logs/central/entry?ref=../x')).status).toBe(400)
    const list = await get(s, '/logs/central/entries?log=permanent&host=web-1')
    expect(list.text).toContain('name="host" value="web-1"')
  })

  it('requeue by filter: dry run, then the job; payload and attempt filters act on exactly what they list', { timeout: 120_000 }, async () => {
    // Its own database: this test changes it.
    const s = await serve({ db: await fleet(), allowWrites: true })
    const filter = { log: 'permanent', reason: 'timeout after', host: 'web-1' }
    const dry = (await post(s, '/api/logs/central/requeue', { ...filter, dryRun: true })).json()
    expect(dry).toMatchObject({ count: 3, text: expect.stringMatching(/^dry run: would move 3 entries/) })
    expect((await get(s, '/api/logs/central/counts')).json()).toMatchObject({ permanent: 12 })
    const job = await waitJob(s, (await post(s, '/api/logs/central/requeue', { ...filter, dryRun: false })).json().job)
    expect(job).toMatchObject({ state: 'done', result: { count: 3 } })
    const c = (await get(s, '/api/logs/central/counts')).json()
    expect(c).toMatchObject({ permanent: 9, pending: 9 })
    expect(c.hosts.find((h: any) => h.host === 'web-1')).toMatchObject({ permanent: 3, pending: 6 })
    // PostgreSQL applies payload and attempt itself: a purge previews what the listing shows.
    const narrowed = { kind: 'permanent', payload: '"order": 5', attempt: '5' }
    const listed = (await get(s, `/api/logs/central/entries?${new URLSearchParams({ ...narrowed, size: '200' })}`)).json().entries
    expect(listed.length).toBeGreaterThan(0)
    const dryPurge = await post(s, '/api/logs/central/purge', { ...narrowed, dryRun: true })
    expect(dryPurge.status).toBe(200)
    expect(dryPurge.json().count).toBe(listed.length)
    const purged = await waitJob(s, (await post(s, '/api/logs/central/purge', { log: 'corrupt', host: 'web-2', dryRun: false })).json().job)
    expect(purged.result.count).toBe(2)
    expect((await get(s, '/api/logs/central/counts')).json()).toMatchObject({ corrupt: 2 })
  })

  it('serves local logs and the store side by side', async () => {
    const local = buildLog(tmpDir())
    const s = await serve({ logs: [local.log], db: shared })
    expect(s.sources.map((x) => x.key)).toEqual(['orders', 'central'])
    const o = (await get(s, '/api/overview')).json()
    expect(o.sources.map((x: any) => x.counts.permanent)).toEqual([6, 12])
  })
})

describe('dletter serve --db <url> (a real PostgreSQL server)', () => {
  it('a store that cannot be reached is an error naming it without its password (exit 3)', async () => {
    const { runCli } = await import('../fixtures/cli-util.js')
    const r = await runCli(['serve', '--db', 'postgres://u:s3cret@127.0.0.1:1/none', '--port', '0'])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^dletter: .*127\.0\.0\.1:1/)
    expect(r.stderr).not.toContain('s3cret')
  })

  it('serves the store named by a connection string ($DLETTER_DB), and names it without its password', { timeout: 120_000 }, async () => {
    const { startCluster } = await import('../postgres/cluster.js')
    const { startCli } = await import('../fixtures/cli-util.js')
    const cluster = await startCluster()
    try {
      const store = await PostgresStore.connect(cluster.url, { host: 'db-host-1' })
      await store.ship(buildLog(tmpDir()).log)
      await store.close()
      const url = cluster.url.replace('postgres@', 'postgres:s3cret@')
      // With no LOG, $DLETTER_DB names the store, as for the other commands.
      const cli = startCli(['serve', '--port', '0'], { env: { DLETTER_DB: url } })
      const base = await new Promise<string>((resolve, reject) => {
        let out = ''
        cli.child.stdout!.on('data', (d: Buffer) => {
          out += d.toString()
          const m = /^listening on (\S+)\n/.exec(out)
          if (m) resolve(m[1])
        })
        cli.done.then((r) => reject(new Error(`exited: ${JSON.stringify(r)}`)))
      })
      const sources = (await (await fetch(base + '/api/sources')).json()) as Array<{ key: string; label: string }>
      expect(sources[0].key).toBe('central')
      expect(sources[0].label).not.toContain('s3cret')
      const counts = (await (await fetch(base + '/api/logs/central/counts')).json()) as { permanent: number; hosts: Array<{ host: string }> }
      expect(counts.permanent).toBe(6)
      expect(counts.hosts.map((h) => h.host)).toEqual(['db-host-1'])
      cli.child.kill('SIGTERM')
      expect((await cli.done).code).toBe(0)
    } finally {
      cluster.destroy()
    }
  })
})
