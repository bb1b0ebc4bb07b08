/**
 * A throwaway PostgreSQL cluster for one test file (and the bench): initdb in a temp dir,
 * pg_ctl on a free loopback port, stopped and removed at the end. The server refuses to run
 * as root, so everything runs as the `postgres` user when we are root. Missing binaries are
 * a hard failure, never a skip: CI installs them (.ci/run).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export interface Cluster {
  url: string
  port: number
  dir: string
  stop(): void
  start(): void
  destroy(): void
}

export function findPgBin(): string | undefined {
  const roots = ['/usr/lib/postgresql']
  for (const root of roots) {
    let versions: string[] = []
    try {
      versions = fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    } catch {
      continue
    }
    for (const v of versions) {
      const bin = path.join(root, v, 'bin')
      if (fs.existsSync(path.join(bin, 'initdb')) && fs.existsSync(path.join(bin, 'pg_ctl'))) return bin
    }
  }
  return undefined
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

function asPostgres(cmd: string, args: string[]): string[] {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  return root ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args]
}

function run(cmd: string, args: string[]): void {
  const [bin, ...rest] = asPostgres(cmd, args)
  const r = spawnSync(bin!, rest, { encoding: 'utf8', cwd: '/' })
  if (r.status !== 0) {
    throw new Error(`${path.basename(cmd)} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout || r.error?.message}`)
  }
}

export async function startCluster(): Promise<Cluster> {
  const bin = findPgBin()
  if (!bin) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian\'s `postgresql` package (apt-get install -y postgresql; .ci/run does this)',
    )
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  // Under /tmp with the sticky, world-reachable parent, so the postgres user can enter it.
  const dir = fs.mkdtempSync(path.join(root ? '/tmp' : os.tmpdir(), 'dletter-pg-'))
  fs.chmodSync(dir, 0o700)
  if (root) execFileSync('chown', ['postgres:postgres', dir])
  const data = path.join(dir, 'data')
  const logFile = path.join(dir, 'server.log')
  let port = 0
  const opts = () =>
    `-c listen_addresses=127.0.0.1 -c port=${port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c unix_socket_directories=${dir} -c max_connections=100`
  const start = () => run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', opts(), '-w', '-t', '60', 'start'])
  // 'fast' (not 'immediate'): with fsync and synchronous_commit off, only a clean shutdown
  // keeps the last commits, and a restarted server must still hold them.
  const stop = () => run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'])
  try {
    run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'])
    // The free port is only free when we asked: another cluster starting at the same moment
    // (vitest runs test files in parallel) can take it first. Then try another one.
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      try {
        start()
        break
      } catch (err) {
        const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''
        if (attempt >= 5 || !/could not bind|already in use/i.test(log)) throw err
      }
    }
  } catch (err) {
    // A server that came up too slowly for pg_ctl's wait must not outlive its directory.
    if (fs.existsSync(path.join(data, 'postmaster.pid'))) {
      try {
        stop()
      } catch {}
    }
    fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }
  let up = true
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start() {
      start()
      up = true
    },
    stop() {
      stop()
      up = false
    },
    destroy() {
      try {
        if (up) stop()
      } finally {
        up = false
        fs.rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
