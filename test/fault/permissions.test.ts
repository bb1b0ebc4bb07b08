/**
 * Permissions and paths: everything we create is private by default (files 0600, dirs 0700);
 * a symlink planted at one of our paths is never followed (its target stays untouched); an
 * unwritable log directory fails at open with a clear error, not at the first log().
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Logger, PermanentError, replay, type DeadLetterError } from '../../src/index.js'
import { encodeCheckpoint } from '../../src/store/checkpoint.js'
import { logPaths } from '../../src/store/segments.js'
import { tmpDir } from '../helpers/tmp.js'
import { NOBODY, exited, forkFault, resultOf } from './helpers/fork.js'
import { mountRefused, mountTmpfs, remount } from './helpers/mount.js'

const modeOf = (p: string) => fs.lstatSync(p).mode & 0o777

function envelope(id: string): string {
  return JSON.stringify({ ts: Date.now(), attempt: 1, reason: 'x', id, payload: { id } }) + '\n'
}

/** A file a symlink points at: its bytes and mtime must survive whatever we do to the link. */
function precious(dir: string, content = 'precious data\n'): { path: string; untouched: () => void } {
  const p = path.join(dir, 'outside', 'target.txt')
  fs.mkdirSync(path.dirname(p), { recursive: true })
  fs.writeFileSync(p, content)
  const old = new Date('2020-01-01T00:00:00Z')
  fs.utimesSync(p, old, old)
  return {
    path: p,
    untouched: () => {
      expect(fs.readFileSync(p, 'utf8')).toBe(content)
      expect(fs.statSync(p).mtimeMs).toBe(old.getTime())
    },
  }
}

async function rejection(p: Promise<unknown>): Promise<DeadLetterError> {
  try {
    await p
  } catch (err) {
    return err as DeadLetterError
  }
  throw new Error('expected a rejection')
}

describe('default modes', () => {
  it('segments, sealed .gz, permanent log, state files, corrupt log, locks and replayer segments are 0600; created dirs 0700', async () => {
    const root = tmpDir('dlq-fault-perm-')
    const logPath = path.join(root, 'a', 'b', 'q.log')
    const paths = logPaths(logPath)
    // Mode of every file seen in the log directory at any stage below.
    const modes = new Map<string, number>()
    const look = () => {
      for (const n of fs.readdirSync(paths.dir)) modes.set(n, modeOf(path.join(paths.dir, n)))
    }
    const logger = await Logger.open(logPath, { rotateSize: '1K', compress: true, sealPollInterval: 0 })
    expect(modeOf(path.join(root, 'a'))).toBe(0o700)
    expect(modeOf(paths.dir)).toBe(0o700)
    for (let i = 0; i < 40; i++) await logger.log({ i, pad: 'x'.repeat(100) }, 'failed', 1, { id: `i${i}` })
    for (let i = 0; i < 40; i++) await logger.logPermanent({ i, pad: 'y'.repeat(100) }, 'given up', 1, { id: `p${i}` })
    await logger.rotate()
    await logger.flush()
    look()
    await logger.close()
    look()
    // A bad line for the quarantine.
    fs.appendFileSync(paths.active, 'not json\n')

    const handler = (p: { i: number }) => {
      look() // the replay lock, state files, replayer segments while they exist
      if (p.i % 3 === 0) throw new Error('again later') // → replayer-owned retry segment
      if (p.i % 3 === 1) throw new PermanentError('never') // → replayer-owned permanent segment
    }
    // Stop early so a state file is left to look at.
    const first = await replay(logPath, handler, { limit: 10, checkpointEvery: 1, initialWait: '1h', maxWait: '1h' })
    expect(first.stopped).toBe('limit')
    look()
    await replay(logPath, handler, { initialWait: '1h', maxWait: '1h' })
    look()

    const names = [...modes.keys()]
    const kinds: Record<string, RegExp> = {
      active: /^q\.log$/,
      writerLock: /^\.q\.log\.lock$/,
      replayLock: /^\.q\.log\.replay\.lock$/,
      sealedGz: /^q\.\d{12}\.log\.gz$/,
      permanentActive: /^permanent-q\.log$/,
      permanentSealed: /^permanent-q\.\d{12}\.log\.gz$/,
      state: /^q\.\d{12}\.log\.state$/,
      replayerRetry: /^q\.r\d{12}\.log$/,
      replayerPermanent: /^permanent-q\.r\d{12}\.log$/,
      corrupt: /^corrupt-q\.log$/,
    }
    for (const [kind, re] of Object.entries(kinds)) expect(names.some((n) => re.test(n)), `no ${kind} file seen among ${names.join(' ')}`).toBe(true)
    for (const [n, mode] of modes) expect(mode.toString(8), n).toBe('600')
  })
})

describe('planted symlinks are not followed', () => {
  for (const which of ['active', 'permanentActive'] as const) {
    it(`at the ${which === 'active' ? 'active segment' : 'active permanent segment'} path: open rejects with DLQ_UNSAFE_PATH, the target is untouched`, async () => {
      const dir = tmpDir('dlq-fault-link-')
      const logPath = path.join(dir, 'logs', 'q.log')
      const paths = logPaths(logPath)
      fs.mkdirSync(paths.dir, { mode: 0o700 })
      const target = precious(dir)
      fs.symlinkSync(target.path, paths[which])
      const err = await rejection(Logger.open(logPath, { sealPollInterval: 0 }))
      expect(err.code, err.message).toBe('DLQ_UNSAFE_PATH')
      target.untouched()
      expect(fs.lstatSync(paths[which]).isSymbolicLink()).toBe(true)
      // A failed open gives its lock back.
      expect(fs.existsSync(paths.writerLock)).toBe(false)
    })
  }

  it('planted at the active path while the logger runs (file moved away, link in its place): logs and rotate reject with DLQ_UNSAFE_PATH, the target is untouched', async () => {
    const dir = tmpDir('dlq-fault-link-')
    const logPath = path.join(dir, 'q.log')
    const target = precious(dir)
    const logger = await Logger.open(logPath, { rotateSize: '1K', sealPollInterval: 0 })
    try {
      await logger.log({ before: true }, 'x')
      fs.renameSync(logPath, path.join(dir, 'moved-away.log'))
      fs.symlinkSync(target.path, logPath)
      // Enough records to cross rotateSize: the writer must reopen the path, and refuse to.
      const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => logger.log({ i, pad: 'z'.repeat(100) }, 'x')))
      const rotated = await logger.rotate().then(
        () => undefined,
        (err: DeadLetterError) => err,
      )
      const errors = [...results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as DeadLetterError), ...(rotated ? [rotated] : [])]
      expect(errors.length).toBeGreaterThan(0)
      for (const e of errors) expect(e.code, e.message).toBe('DLQ_UNSAFE_PATH')
      target.untouched()
    } finally {
      await logger.close().catch(() => {})
    }
    target.untouched()
  })

  it('a dangling symlink at the active segment path is not created through', async () => {
    const dir = tmpDir('dlq-fault-link-')
    const logPath = path.join(dir, 'q.log')
    const ghost = path.join(dir, 'outside', 'ghost.txt')
    fs.mkdirSync(path.dirname(ghost))
    fs.symlinkSync(ghost, logPath)
    const err = await rejection(Logger.open(logPath, { sealPollInterval: 0 }))
    expect(err.code, err.message).toBe('DLQ_UNSAFE_PATH')
    expect(fs.existsSync(ghost)).toBe(false)
  })

  it('at a state file path: replay ignores it (with a warning naming the link), delivers everything, the target is untouched', async () => {
    const dir = tmpDir('dlq-fault-link-')
    const logPath = path.join(dir, 'q.log')
    const seg = path.join(dir, 'q.000000000001.log')
    const body = envelope('a') + envelope('b') + envelope('c')
    fs.writeFileSync(seg, body, { mode: 0o600 })
    // Followed, this valid checkpoint would mark the whole segment as done: three items lost.
    const target = precious(dir, encodeCheckpoint({ segment: 'q.000000000001.log', offset: Buffer.byteLength(body), items: 3, updatedAt: 1 }))
    fs.symlinkSync(target.path, `${seg}.state`)
    const delivered: string[] = []
    const s = await replay(logPath, (_p, env) => void delivered.push(env.id!), {})
    expect(delivered.sort()).toEqual(['a', 'b', 'c'])
    expect(s.warnings.join('\n')).toMatch(/symbolic link/)
    target.untouched()
  })

  for (const which of ['writerLock', 'replayLock'] as const) {
    for (const dangling of [false, true]) {
      it(`at the ${which === 'writerLock' ? 'writer' : 'replay'} lock path (${dangling ? 'dangling' : 'to a file'}): rejects with DLQ_UNSAFE_PATH, the target is untouched`, async () => {
        const dir = tmpDir('dlq-fault-link-')
        const logPath = path.join(dir, 'q.log')
        const paths = logPaths(logPath)
        const target = precious(dir)
        const linkTo = dangling ? path.join(dir, 'outside', 'none.txt') : target.path
        fs.symlinkSync(linkTo, paths[which])
        const err = await rejection(which === 'writerLock' ? Logger.open(logPath, { sealPollInterval: 0 }) : replay(logPath, () => {}))
        expect(err.code, err.message).toBe('DLQ_UNSAFE_PATH')
        target.untouched()
        if (dangling) expect(fs.existsSync(linkTo)).toBe(false)
        expect(fs.lstatSync(paths[which]).isSymbolicLink()).toBe(true)
      })
    }
  }

  it('at the corrupt log path: replay rejects with DLQ_UNSAFE_PATH instead of quarantining into the target', async () => {
    const dir = tmpDir('dlq-fault-link-')
    const logPath = path.join(dir, 'q.log')
    const paths = logPaths(logPath)
    fs.writeFileSync(path.join(dir, 'q.000000000001.log'), envelope('a') + 'garbage\n', { mode: 0o600 })
    const target = precious(dir)
    fs.symlinkSync(target.path, paths.corrupt)
    const err = await rejection(replay(logPath, () => {}))
    expect(err.code, err.message).toBe('DLQ_UNSAFE_PATH')
    target.untouched()
    // Nothing was given up: the segment is still there for a replay once the link is gone.
    fs.unlinkSync(paths.corrupt)
    const delivered: string[] = []
    const s = await replay(logPath, (_p, env) => void delivered.push(env.id!))
    expect(delivered).toContain('a')
    expect(s.corrupt).toBe(1)
  })

  it('at a segment name: the link is neither read nor removed', async () => {
    const dir = tmpDir('dlq-fault-link-')
    const logPath = path.join(dir, 'q.log')
    const target = precious(dir, envelope('outsider'))
    const link = path.join(dir, 'q.000000000005.log')
    fs.symlinkSync(target.path, link)
    const delivered: string[] = []
    await replay(logPath, (_p, env) => void delivered.push(env.id!))
    expect(delivered).toEqual([])
    target.untouched()
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true)
  })
})

describe.skipIf(mountRefused !== undefined)(`read-only directory${mountRefused ? ` — SKIPPED: ${mountRefused}` : ''}`, () => {
  it('Logger.open on a read-only mount rejects at open with DLQ_IO, systemCode EROFS', async () => {
    const mnt = mountTmpfs('1m')
    fs.mkdirSync(path.join(mnt, 'logs'))
    remount(mnt, 'ro')
    for (const logPath of [path.join(mnt, 'logs', 'q.log'), path.join(mnt, 'missing', 'deeper', 'q.log')]) {
      const err = await rejection(Logger.open(logPath, { sealPollInterval: 0 }))
      expect(err.code, err.message).toBe('DLQ_IO')
      expect(err.systemCode, err.message).toBe('EROFS')
      expect(err.message).toContain(mnt)
    }
  })

  it('replay() on a read-only mount rejects with DLQ_IO, systemCode EROFS, before touching anything', async () => {
    const mnt = mountTmpfs('1m')
    fs.writeFileSync(path.join(mnt, 'q.000000000001.log'), envelope('a'))
    remount(mnt, 'ro')
    let called = 0
    const err = await rejection(replay(path.join(mnt, 'q.log'), () => void called++))
    expect(err.code, err.message).toBe('DLQ_IO')
    expect(err.systemCode).toBe('EROFS')
    expect(called).toBe(0)
  })
})

describe.skipIf(process.getuid?.() !== 0)('unwritable directory for an unprivileged user', () => {
  it('Logger.open run as uid 65534 in a root-owned 0755 directory rejects at open with DLQ_IO, systemCode EACCES', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-fault-eacces-'))
    try {
      fs.chmodSync(dir, 0o755)
      const child = forkFault('open-log.ts', [path.join(dir, 'q.log')], {}, NOBODY)
      const res = await resultOf<{ opened: boolean; code?: string; systemCode?: string; message?: string }>(child, 30_000)
      await exited(child)
      expect(res.opened).toBe(false)
      expect(res.code, res.message).toBe('DLQ_IO')
      expect(res.systemCode, res.message).toBe('EACCES')
      expect(fs.readdirSync(dir)).toEqual([])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
