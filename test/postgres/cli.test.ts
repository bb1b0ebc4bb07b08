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
