import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DeadLetterError, Logger } from '../src/index.js'
import { exited, forkFixture, killAfterTest, nextMessage } from './helpers/child.js'
import { bootId, processStartTime } from '../src/store/process-identity.js'
import { tmpDir } from './helpers/tmp.js'

const open: Logger[] = []

afterEach(async () => {
  for (const d of open.splice(0)) await d.close()
})

async function openLog(file: string): Promise<Logger> {
  const dlq = await Logger.open(file, { sealPollInterval: 0 })
  open.push(dlq)
  return dlq
}

function lockOf(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.lock`)
}

/** The pid of a process that has certainly exited (spawned and waited for). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''])
  expect(r.status).toBe(0)
  expect(r.pid).toBeGreaterThan(0)
  return r.pid!
}

interface ChildReport {
  ok: boolean
  pid?: number
  code?: string
  message?: string
}

describe('writer lock within one process', () => {
  it('a second open of the same path rejects DLQ_LOCKED naming the holder pid', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    await openLog(file)
    const err = await Logger.open(file).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeadLetterError)
    expect((err as DeadLetterError).code).toBe('DLQ_LOCKED')
    expect((err as DeadLetterError).message).toContain(`pid ${process.pid}`)
    expect((err as { pid?: number }).pid).toBe(process.pid)
  })

  it('the same log reached through another spelling of the path is still locked', async () => {
    const dir = tmpDir()
    await openLog(path.join(dir, 'orders.log'))
    await expect(Logger.open(path.join(dir, 'sub', '..', 'orders.log'))).rejects.toMatchObject({ code: 'DLQ_LOCKED' })
  })

  it('different logs in one directory do not share a lock', async () => {
    const dir = tmpDir()
    await openLog(path.join(dir, 'a.log'))
    await openLog(path.join(dir, 'b.log'))
  })

  it('close() releases the lock so a new open works', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const a = await Logger.open(file)
    expect(fs.existsSync(lockOf(file))).toBe(true)
    await a.close()
    expect(fs.existsSync(lockOf(file))).toBe(false)
    const b = await openLog(file)
    await b.log(1, 'x')
  })

  it('the lock file holds our pid, is created 0600 and is left alone by close() once it is not ours', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(file)
    const info = JSON.parse(fs.readFileSync(lockOf(file), 'utf8'))
    expect(info).toMatchObject({ pid: process.pid, host: os.hostname(), kind: 'writer' })
    expect(fs.statSync(lockOf(file)).mode & 0o777).toBe(0o600)
    // Someone replaced it (an operator, a reclaiming process): close must not delete theirs.
    const theirs = JSON.stringify({ ...info, token: 'someone-else' }) + '\n'
    fs.writeFileSync(lockOf(file), theirs)
    await dlq.close()
    expect(fs.readFileSync(lockOf(file), 'utf8')).toBe(theirs)
  })
})

describe('stale locks', () => {
  it('reclaims a lock left by a dead pid', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const pid = deadPid()
    fs.writeFileSync(
      lockOf(file),
      JSON.stringify({ pid, host: os.hostname(), token: 'dead', since: Date.now(), kind: 'writer' }) + '\n',
    )
    const dlq = await openLog(file)
    expect(JSON.parse(fs.readFileSync(lockOf(file), 'utf8')).pid).toBe(process.pid)
    await dlq.log({ ok: true }, 'x')
  })

  it('reclaims a lock with our own pid but a token we never held (PID 1 in a restarted container)', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    fs.writeFileSync(
      lockOf(file),
      JSON.stringify({ pid: process.pid, host: os.hostname(), token: 'previous-life', since: Date.now(), kind: 'writer' }) + '\n',
    )
    const dlq = await openLog(file)
    expect(JSON.parse(fs.readFileSync(lockOf(file), 'utf8')).token).not.toBe('previous-life')
    // …while a lock this process really holds still counts as held.
    await expect(Logger.open(file)).rejects.toMatchObject({ code: 'DLQ_LOCKED' })
    await dlq.close()
  })

  it('a reclaim mutex left by a process that died mid-reclaim does not block taking a stale lock', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const dead = deadPid()
    fs.writeFileSync(lockOf(file), JSON.stringify({ pid: dead, host: os.hostname(), token: 'dead', since: 0, kind: 'writer' }) + '\n')
    fs.writeFileSync(`${lockOf(file)}.reclaim`, JSON.stringify({ pid: dead }) + '\n')
    const dlq = await openLog(file)
    expect(JSON.parse(fs.readFileSync(lockOf(file), 'utf8')).pid).toBe(process.pid)
    expect(fs.existsSync(`${lockOf(file)}.reclaim`)).toBe(false)
    await dlq.close()
  })

  it('concurrent reclaimers of one stale lock: exactly one wins, every round, the others get DLQ_LOCKED', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const dead = deadPid()
    for (let round = 0; round < 20; round++) {
      fs.writeFileSync(lockOf(file), JSON.stringify({ pid: dead, host: os.hostname(), token: `dead-${round}`, since: 0, kind: 'writer' }) + '\n')
      const tries = await Promise.allSettled(Array.from({ length: 8 }, () => Logger.open(file, { sealPollInterval: 0 })))
      const won = tries.filter((t) => t.status === 'fulfilled')
      expect(won, `round ${round}`).toHaveLength(1)
      for (const t of tries) if (t.status === 'rejected') expect(t.reason).toMatchObject({ code: 'DLQ_LOCKED', pid: process.pid })
      await (won[0] as PromiseFulfilledResult<Logger>).value.close()
      expect(fs.existsSync(`${lockOf(file)}.reclaim`)).toBe(false)
    }
  })

  it('a reclaim mutex held by a live process is waited for up to openTimeout, then DLQ_LOCKED names it (never a silent give-up)', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    fs.writeFileSync(lockOf(file), JSON.stringify({ pid: deadPid(), host: os.hostname(), token: 'dead', since: 0, kind: 'writer' }) + '\n')
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
    killAfterTest(holder)
    const pid = holder.pid!
    fs.writeFileSync(`${lockOf(file)}.reclaim`, JSON.stringify({ pid, host: os.hostname(), boot: bootId(), start: processStartTime(pid) }) + '\n')
    const err = await Logger.open(file, { sealPollInterval: 0, openTimeout: 100 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'DLQ_LOCKED', pid })
    expect((err as Error).message).toMatch(new RegExp(`pid ${pid} has held its reclaim mutex .* for over 100 ms`))
    // Once that process is gone, its mutex is cleared and the stale lock reclaimed.
    holder.kill('SIGKILL')
    await exited(holder)
    await openLog(file)
  })

  it("removes lock temp files left by a process killed mid-creation, and only those of dead pids", async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const dead = `${lockOf(file)}.${deadPid()}.0badc0de.tmp`
    const live = `${lockOf(file)}.${process.pid}.12345678.tmp`
    const unrelated = `${lockOf(file)}.notes.tmp`
    for (const f of [dead, live, unrelated]) fs.writeFileSync(f, '{}')
    const dlq = await openLog(file)
    expect(fs.existsSync(dead)).toBe(false)
    expect(fs.existsSync(live)).toBe(true)
    expect(fs.existsSync(unrelated)).toBe(true)
    await dlq.close()
  })

  it('a lock whose content is unreadable is treated as held while young and reclaimed once old', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    fs.writeFileSync(lockOf(file), '{"pid":')
    await expect(Logger.open(file)).rejects.toMatchObject({ code: 'DLQ_LOCKED', message: expect.stringContaining('another process') })
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(lockOf(file), old, old)
    await openLog(file)
  })

  it('a lock held by a live pid on another host is treated as held', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    fs.writeFileSync(
      lockOf(file),
      JSON.stringify({ pid: deadPid(), host: `not-${os.hostname()}`, token: 't', since: Date.now(), kind: 'writer' }),
    )
    await expect(Logger.open(file)).rejects.toMatchObject({ code: 'DLQ_LOCKED', message: expect.stringContaining(`on not-${os.hostname()}`) })
  })

  it('refuses a lock path that is a symbolic link', async () => {
    const dir = tmpDir()
    const file = path.join(dir, 'orders.log')
    fs.writeFileSync(path.join(dir, 'elsewhere'), 'x')
    fs.symlinkSync(path.join(dir, 'elsewhere'), lockOf(file))
    await expect(Logger.open(file)).rejects.toMatchObject({ code: 'DLQ_UNSAFE_PATH' })
    expect(fs.readFileSync(path.join(dir, 'elsewhere'), 'utf8')).toBe('x')
  })
})

describe('writer lock across processes', () => {
  it('a child cannot open the log while this process holds it (DLQ_LOCKED with our pid)', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    await openLog(file)
    const child = forkFixture('log-hold.ts', [file, 'try'])
    killAfterTest(child)
    const report = await nextMessage<ChildReport>(child)
    expect(report.ok).toBe(false)
    expect(report.code).toBe('DLQ_LOCKED')
    expect(report.message).toContain(`pid ${process.pid}`)
    expect((await exited(child)).code).toBe(0)
  })

  it('this process cannot open the log while a child holds it, and can once the child closes', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const child = forkFixture('log-hold.ts', [file, 'hold'])
    killAfterTest(child)
    const report = await nextMessage<ChildReport>(child)
    expect(report).toEqual({ ok: true, pid: child.pid })
    await expect(Logger.open(file)).rejects.toMatchObject({
      code: 'DLQ_LOCKED',
      message: expect.stringContaining(`pid ${child.pid}`),
    })
    const closed = nextMessage<{ closed: boolean }>(child)
    child.send('close')
    expect(await closed).toEqual({ closed: true })
    await exited(child)
    await openLog(file)
  })

  it('a lock left by a SIGKILLed child is reclaimed', async () => {
    const file = path.join(tmpDir(), 'orders.log')
    const child = forkFixture('log-hold.ts', [file, 'hold'])
    killAfterTest(child)
    expect((await nextMessage<ChildReport>(child)).ok).toBe(true)
    child.kill('SIGKILL')
    expect((await exited(child)).signal).toBe('SIGKILL')
    expect(JSON.parse(fs.readFileSync(lockOf(file), 'utf8')).pid).toBe(child.pid)
    await openLog(file)
    expect(JSON.parse(fs.readFileSync(lockOf(file), 'utf8')).pid).toBe(process.pid)
  })
})
