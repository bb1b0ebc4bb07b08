/**
 * `mode` and `dirMode` must leave the owner able to use what it creates: a log file the
 * writer cannot read back, or a directory it cannot enter, is a log nobody can replay.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, replay } from '../src/index.js'
import { resolveLoggerOptions, resolveReplayOptions } from '../src/base/options.js'
import { tmpDir } from './helpers/tmp.js'

describe('Logger mode and dirMode', () => {
  for (const mode of [0, 0o200, 0o400, 0o100, 0o060, 0o066]) {
    it(`mode 0o${mode.toString(8)} (owner lacks rw) is rejected naming the option`, async () => {
      const err = await Logger.open(path.join(tmpDir(), 'orders.log'), { mode }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
      expect((err as Error).message).toContain('`mode`')
    })
  }

  for (const dirMode of [0, 0o200, 0o600, 0o500, 0o300, 0o077]) {
    it(`dirMode 0o${dirMode.toString(8)} (owner lacks rwx) is rejected naming the option`, async () => {
      const err = await Logger.open(path.join(tmpDir(), 'sub', 'orders.log'), { dirMode }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'DLQ_INVALID_OPTION' })
      expect((err as Error).message).toContain('`dirMode`')
    })
  }

  it('accepts modes that give the owner what it needs, with or without group/other bits', () => {
    for (const mode of [0o600, 0o640, 0o644, 0o666, 0o700]) expect(resolveLoggerOptions({ mode }).mode).toBe(mode)
    for (const dirMode of [0o700, 0o750, 0o755, 0o777]) expect(resolveLoggerOptions({ dirMode }).dirMode).toBe(dirMode)
  })
})

describe('replay mode', () => {
  it('rejects a mode the owner cannot read and write', async () => {
    await expect(replay(path.join(tmpDir(), 'orders.log'), () => {}, { mode: 0o200 })).rejects.toMatchObject({ code: 'DLQ_INVALID_OPTION' })
    expect(() => resolveReplayOptions({ mode: 0 })).toThrow(expect.objectContaining({ code: 'DLQ_INVALID_OPTION' }))
    expect(resolveReplayOptions({ mode: 0o640 }).mode).toBe(0o640)
  })
})
