/**
 * Behind PgBouncer in transaction mode — a real one, Debian's 1.18, which refuses the
 * `options` startup parameter the replaying store's pinned sessions are opened with. The
 * store must notice and pin its plans per transaction instead (db.ts), and ship, claim,
 * settle, requeue and count as it does directly: every entry delivered once, counts exact.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { PostgresStore } from '../../src/postgres/index.js'
import { freePort } from './cluster.js'
import { byState, useCluster } from './setup.js'
import { tmpDir } from '../helpers/tmp.js'

const PGBOUNCER = '/usr/sbin/pgbouncer'
const cluster = useCluster()
let bouncer: ChildProcess | undefined
let url = ''
let dir = ''

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

beforeAll(async () => {
  if (!fs.existsSync(PGBOUNCER)) throw new Error(`${PGBOUNCER} not found: install Debian's pgbouncer package (apt-get install -y pgbouncer; .ci/run does this)`)
  // Under /tmp, owned by the postgres user: PgBouncer, like PostgreSQL, refuses to run as root.
  dir = fs.mkdtempSync('/tmp/dletter-pgbouncer-')
  const port = await freePort()
  const server = new URL(cluster.url)
  fs.writeFileSync(path.join(dir, 'users.txt'), '"postgres" ""\n')
  fs.writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `postgres = host=127.0.0.1 port=${server.port} dbname=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      "unix_socket_dir = ''",
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 200',
      'default_pool_size = 8',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  )
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (root) fs.chmodSync(dir, 0o777)
  // Our own child (not under runuser), so that killing it in afterAll stops PgBouncer itself.
  const as = root ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) } : {}
  bouncer = spawn(PGBOUNCER, [path.join(dir, 'pgbouncer.ini')], { stdio: 'ignore', ...as })
  const exited = new Promise<never>((_, reject) => bouncer!.once('exit', (code) => reject(new Error(`pgbouncer exited (${code}): ${fs.readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8')}`))))
  // Wait on the condition (the port accepts), not on time.
  await Promise.race([
    (async () => {
      while (!(await accepting(port))) await new Promise((r) => setTimeout(r, 20))
    })(),
    exited,
  ])
  url = `postgres://postgres@127.0.0.1:${port}/postgres`
}, 60_000)

afterAll(async () => {
  if (bouncer && bouncer.exitCode === null) {
    const gone = new Promise((r) => bouncer!.once('exit', r))
    bouncer.kill('SIGTERM')
    await gone
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

describe('behind PgBouncer (transaction mode)', () => {
  it('refuses the startup options a pinned session would be opened with', async () => {
    const c = new pg.Client({ connectionString: url, options: '-c enable_sort=off' })
    await expect(c.connect()).rejects.toMatchObject({ code: '08P01', message: expect.stringMatching(/unsupported startup parameter/) })
    await c.end().catch(() => {})
  })

  it('ships, replays with 4 workers (every entry once), requeues and counts as directly', async () => {
    const schema = `bouncer_${process.pid}`
    const store = await PostgresStore.connect(url, { schema, host: 'h1', maxConnections: 6 })
    const logPath = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(logPath)
    for (let i = 0; i < 600; i++) {
      if (i % 10 === 0) await dlq.logPermanent({ n: i }, 'declined', 3)
      else await dlq.log({ n: i }, 'timeout')
    }
    await dlq.close()
    expect(await store.ship(logPath)).toMatchObject({ shipped: 600 })
    const seen = new Map<number, number>()
    const runs = await Promise.all(
      Array.from({ length: 4 }, () =>
        store.replay((p) => {
          const n = (p as { n: number }).n
          seen.set(n, (seen.get(n) ?? 0) + 1)
        }, { batchSize: 25 }),
      ),
    )
    expect(runs.reduce((a, r) => a + r.delivered, 0)).toBe(540)
    expect(seen.size).toBe(540)
    expect([...seen.values()].every((k) => k === 1)).toBe(true)
    expect(await store.requeue({ kind: 'permanent', why: 'fixed upstream' })).toMatchObject({ count: 60 })
    expect(await store.replay(() => {})).toMatchObject({ delivered: 60 })
    expect(await byState(store)).toEqual({ retry: 0, permanent: 0, corrupt: 0, delivered: 600, purged: 0 })
    // The kept counts equal a recount, read directly from the server.
    const direct = new pg.Client({ connectionString: cluster.url })
    await direct.connect()
    const r = await direct.query(`SELECT state, count(*)::int AS n FROM "${schema}".entries GROUP BY state`)
    await direct.end()
    expect(r.rows).toEqual([{ state: 'delivered', n: 600 }])
    await store.close()
  })
})
