/**
 * The same file gets the same entry keys whatever spelling of its path reaches it: a crash
 * between COMMIT and the local delete, then a ship through a symlinked directory, inserts
 * nothing twice; the entries show one `log` name, the real path.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { allEntries, useCluster } from './setup.js'

const pg = useCluster()

describe('ship: path spelling', () => {
  it('re-shipping the same files through another spelling of their path inserts nothing twice', async () => {
    const root = tmpDir()
    const real = path.join(root, 'real', 'logs')
    fs.mkdirSync(real, { recursive: true })
    fs.symlinkSync(path.join(root, 'real'), path.join(root, 'link'), 'dir')
    const dlq = await Logger.open(path.join(real, 'o.log'))
    for (let i = 0; i < 100; i++) {
      if (i === 60) await dlq.rotate()
      if (i % 10 === 9) await dlq.logPermanent({ i }, 'boom', { id: `id-${i}` })
      else await dlq.log({ i }, 'boom', { id: `id-${i}` })
    }
    await dlq.close()
    // What the files were before the first ship: put back, it is a crash after COMMIT and before the delete.
    const backup = path.join(root, 'backup')
    fs.cpSync(real, backup, { recursive: true })
    const crashAfterCommit = () => {
      for (const f of fs.readdirSync(real)) fs.rmSync(path.join(real, f), { force: true })
      fs.cpSync(backup, real, { recursive: true })
    }

    const store = await pg.store()
    const spellings = [
      path.join(root, 'link', 'logs', 'o.log'),
      path.join(real, 'o.log'),
      `${path.join(root, 'link', 'logs')}/../logs/o.log`,
      path.relative(process.cwd(), path.join(root, 'link', 'logs', 'o.log')),
    ]
    expect(await store.ship(spellings[0]!)).toMatchObject({ shipped: 100, retry: 90, permanent: 10 })
    for (const spelling of spellings.slice(1)) {
      crashAfterCommit()
      expect(await store.ship(spelling), spelling).toMatchObject({ shipped: 0, duplicates: 100 })
    }
    const rows = await allEntries(store)
    expect(rows).toHaveLength(100)
    expect(new Set(rows.map((e) => e.id)).size).toBe(100)
    expect(new Set(rows.map((e) => e.logName))).toEqual(new Set([path.join(fs.realpathSync(real), 'o.log')]))
  })
})
