/**
 * Bad log paths are the caller's mistake and say so (DLQ_INVALID_ARGUMENT) at every entry
 * point, instead of surfacing as DLQ_IO about some lock file or as a symlink refusal.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, replay } from '../src/index.js'
import { sealLog } from '../src/store/seal.js'
import { tmpDir } from './helpers/tmp.js'

describe('a directory as the log path', () => {
  it('Logger.open(<a directory>) rejects with DLQ_INVALID_ARGUMENT and creates nothing', async () => {
    const dir = tmpDir()
    const target = path.join(dir, 'logs')
    fs.mkdirSync(target)
    const err = await Logger.open(target).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
    expect((err as Error).message).toContain('is a directory')
    expect(fs.readdirSync(dir)).toEqual(['logs'])
    expect(fs.readdirSync(target)).toEqual([])
  })

  it('with a trailing slash too', async () => {
    const target = path.join(tmpDir(), 'logs')
    fs.mkdirSync(target)
    await expect(Logger.open(target + '/')).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
  })

  it('replay(<a directory>) and sealLog(<a directory>) reject with DLQ_INVALID_ARGUMENT', async () => {
    const target = path.join(tmpDir(), 'logs')
    fs.mkdirSync(target)
    await expect(replay(target, () => {})).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
    await expect(sealLog(target)).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
    expect(fs.statSync(target).isDirectory()).toBe(true)
  })
})

describe('a NUL byte in the log path', () => {
  it('Logger.open, replay and sealLog reject with DLQ_INVALID_ARGUMENT and create nothing', async () => {
    const dir = tmpDir()
    const bad = path.join(dir, 'orders\0.log')
    for (const attempt of [() => Logger.open(bad), () => replay(bad, () => {}), () => sealLog(bad)]) {
      const err = await attempt().catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
      expect((err as Error).message).toContain('NUL')
    }
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('in the directory part too', async () => {
    await expect(Logger.open(path.join(tmpDir(), 'a\0b', 'orders.log'))).rejects.toMatchObject({ code: 'DLQ_INVALID_ARGUMENT' })
  })
})
