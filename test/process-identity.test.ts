import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { bootId, holderAlive, processStartTime, selfIdentity, startTimeOfStat } from '../src/store/process-identity.js'
import { killAfterTest } from './helpers/child.js'

const onLinux = fs.existsSync('/proc/sys/kernel/random/boot_id')


function liveChild(): number {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
  killAfterTest(c)
  return c.pid!
}

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!
}

describe('reading /proc', () => {
  it('field 22 is found past a command name containing spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 1))
    fields[21] = '987654'
    const line = `${fields[0]} (a) b (c) ${fields.slice(2).join(' ')}\n`
    expect(startTimeOfStat(line)).toBe('987654')
  })

  it.skipIf(!onLinux)('our identity carries the boot id and our start time from /proc', () => {
    const me = selfIdentity()
    expect(me).toMatchObject({ pid: process.pid, host: os.hostname() })
    expect(me.boot).toBe(fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())
    const stat = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8')
    expect(me.start).toBe(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
    expect(processStartTime(deadPid())).toBeUndefined()
  })
})

describe.skipIf(!onLinux)('holderAlive on Linux: boot id + pid + start time, never the clock', () => {
  it('a live process with its recorded start time is alive', () => {
    const pid = liveChild()
    expect(holderAlive({ pid, host: os.hostname(), boot: bootId(), start: processStartTime(pid) })).toBe(true)
  })

  it('a live pid with another start time is a reused pid: not alive', () => {
    const pid = liveChild()
    expect(holderAlive({ pid, host: os.hostname(), boot: bootId(), start: '1' })).toBe(false)
  })

  it('a holder from another boot is not alive, even if its pid is in use now', () => {
    const pid = liveChild()
    expect(holderAlive({ pid, host: os.hostname(), boot: 'another-boot', start: processStartTime(pid) })).toBe(false)
  })

  it('a gone pid is not alive', () => {
    expect(holderAlive({ pid: deadPid(), host: os.hostname(), boot: bootId(), start: '12345' })).toBe(false)
  })
})

describe('fallbacks', () => {
  it('a holder on another host cannot be checked and counts as alive', () => {
    expect(holderAlive({ pid: deadPid(), host: `not-${os.hostname()}` })).toBe(true)
  })

  it('without a boot id (older lock, or no /proc where it was written) a signal-0 probe decides', () => {
    expect(holderAlive({ pid: liveChild(), host: os.hostname() })).toBe(true)
    expect(holderAlive({ pid: deadPid(), host: os.hostname() })).toBe(false)
  })
})
