/**
 * The CLI against the central store: `dletter ship`, and `--db` (or $DLETTER_DB with no
 * LOG) on stats, inspect, replay, requeue and purge. Credentials never appear in output.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { runCli } from '../fixtures/cli-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { useCluster } from './setup.js'

const pg = useCluster()

/** The cluster's URL with a password in it (trust auth ignores it): it must never be printed. */
const secretUrl = () => pg.url.replace('postgres@', 'postgres:hunter2-secret@')

async function logSome(dir: string, n: number): Promise<string> {
  const logPath = path.join(dir, 'orders.log')
  const dlq = await Logger.open(logPath)
  for (let i = 0; i < n; i++) {
    if (i % 4 === 3) await dlq.logPermanent({ i }, `legacy order ${i} rejected`, 3, { id: `o-${i}` })
    else await dlq.log({ i }, `timeout after ${i} ms`, 1, { id: `o-${i}` })
  }
  await dlq.close()
  return logPath
}

describe('dletter ship', () => {
  it('ships with --db or $DLETTER_DB, prints no credentials, reports a down database with exit 3', async () => {
    const dir = tmpDir()
    const logPath = await logSome(dir, 8)
    const r = await runCli(['ship', logPath, '--db', secretUrl(), '--host', 'pod-9'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/shipped\s+8 /)
    const again = await runCli(['ship', logPath, '--json'], { env: { DLETTER_DB: secretUrl() } })
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ shipped: 0, files: 0 })
    const noDb = await runCli(['ship', logPath], { env: { DLETTER_DB: '' } })
    expect(noDb.code).toBe(1)
    expect(noDb.stderr).toMatch(/DLETTER_DB/)
    const down = await runCli(['ship', logPath, '--db', secretUrl().replace(/:\d+\//, ':1/')])
    expect(down.code).toBe(3)
    expect(down.stderr).toMatch(/ECONNREFUSED/)
    for (const out of [r, again, noDb, down]) expect(out.stdout + out.stderr).not.toContain('hunter2-secret')
    expect(fs.readdirSync(dir).filter((f) => !f.startsWith('.') && fs.statSync(path.join(dir, f)).size > 0)).toEqual([])
  })
})

describe('--db on stats, inspect, replay, requeue, purge', () => {
  it('runs each command against the central store with the local flags', async () => {
    const dir = tmpDir()
    const logPath = await logSome(dir, 12)
    // A database of its own: the CLI always uses the default schema.
    const { default: pgClient } = await import('pg')
    const admin = new pgClient.Client(pg.url)
    await admin.connect()
    await admin.query('CREATE DATABASE cli_db')
    await admin.end()
    const url = secretUrl().replace(/\/postgres$/, '/cli_db')
    expect((await runCli(['ship', logPath, '--db', url, '--host', 'pod-1'])).code).toBe(0)
    const outputs: string[] = []
    const cli = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const r = await runCli(args, { env })
      outputs.push(r.stdout, r.stderr)
      return r
    }

    const stats = await cli(['stats', '--db', url, '--json'])
    expect(stats.code).toBe(0)
    expect(JSON.parse(stats.stdout)).toMatchObject({ retry: { count: 9 }, permanent: { count: 3 }, corrupt: { count: 0 }, hosts: [{ host: 'pod-1', retry: 9, permanent: 3, corrupt: 0 }] })
    // No LOG: $DLETTER_DB is the default.
    const human = await cli(['stats'], { DLETTER_DB: url })
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/timeout after <n> ms/)

    const perm = await cli(['inspect', '--db', url, '--permanent', '--json'])
    const lines = perm.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; kind: string; host: string })
    expect(lines.map((l) => l.id)).toEqual(['o-3', 'o-7', 'o-11'])
    expect(lines[0]).toMatchObject({ kind: 'permanent', host: 'pod-1' })
    const filtered = await cli(['inspect', '--db', url, '--reason', 'after [12] ms', '--host', 'pod-1', '--json'])
    expect(filtered.stdout.trim().split('\n')).toHaveLength(2)

    const dry = await cli(['requeue', '--db', url, '--reason', 'legacy', '--dry-run', '--json'])
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, count: 3, reasons: [{ fingerprint: 'legacy order <n> rejected', count: 3 }] })
    const requeued = await cli(['requeue', '--db', url, '--reason', 'legacy', '--reset-attempts', '--json'])
    expect(JSON.parse(requeued.stdout)).toMatchObject({ dryRun: false, count: 3 })

    const handler = path.join(dir, 'handler.mjs')
    fs.writeFileSync(handler, `export default function (payload) { if (payload.i === 0) throw new Error('still down') }\n`)
    const rep = await cli(['replay', '--db', url, '--handler', handler, '--json', '--initial-wait', '1h', '--max-wait', '1h'])
    expect(rep.code).toBe(0)
    expect(JSON.parse(rep.stdout)).toMatchObject({ handled: 12, delivered: 11, requeued: 1 })
    const local = await cli(['replay', '--db', url, '--handler', handler, '--checkpoint-every', '5'])
    expect(local.code).toBe(1)
    expect(local.stderr).toMatch(/--checkpoint-every applies to a local log/)

    expect((await cli(['purge', '--db', url, '--permanent'])).code).toBe(1)
    const purge = await cli(['purge', '--db', url, '--permanent', '--yes', '--json'])
    expect(JSON.parse(purge.stdout)).toMatchObject({ kind: 'permanent', count: 0 })
    const both = await cli(['stats', logPath, '--db', url])
    expect(both.code).toBe(1)
    expect(both.stderr).toMatch(/either a LOG path or --db/)
    for (const o of outputs) expect(o).not.toContain('hunter2-secret')
  })
})
