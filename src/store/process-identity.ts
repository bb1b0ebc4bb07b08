/**
 * Who holds a lock, in terms that survive wall-clock steps and pid reuse.
 *
 * On Linux a process is named by the boot it runs in (`/proc/sys/kernel/random/boot_id`), its
 * pid and its start time (field 22 of `/proc/<pid>/stat`, in clock ticks since boot). A holder
 * is alive iff it ran in this boot and a process with that pid and that start time exists. A
 * pid reused after the holder died has another start time, and a lock written before a reboot
 * names another boot: none of this reads the wall clock, so a clock step (a VM resumed and
 * corrected, an NTP step on a host without RTC) changes nothing.
 *
 * Fallback where /proc is missing (macOS, the BSDs, Windows) or a lock carries no boot id (written
 * there, or by an older version): a signal-0 probe of the pid. A holder then counts as alive while
 * any process has its pid — conservative: a reused pid can make a stale lock look held (an open
 * fails with DLQ_LOCKED until that process exits), but a live holder is never judged dead.
 */
import fs from 'node:fs'
import os from 'node:os'

export interface ProcessIdentity {
  pid: number
  host: string
  /** Linux boot id; absent where /proc is missing. */
  boot?: string
  /** Start time of `pid` in clock ticks since boot (decimal string); absent where /proc is missing. */
  start?: string
}

let bootIdCache: string | null | undefined

/** This machine's boot id, or undefined where the kernel does not expose one. */
export function bootId(): string | undefined {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null
    } catch {
      bootIdCache = null
    }
  }
  return bootIdCache ?? undefined
}

/** Field 22 of /proc/<pid>/stat, or undefined when that process is not visible. */
export function processStartTime(pid: number): string | undefined {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  return startTimeOfStat(text)
}

/** Field 22 of a /proc/<pid>/stat line. */
export function startTimeOfStat(text: string): string | undefined {
  // Field 2 is the command name in parentheses and may itself contain spaces and ')': the
  // fields after it start past the last ')'. Field 3 is the first of them, so 22 is index 19.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const start = rest[19]
  return start !== undefined && /^\d+$/.test(start) ? start : undefined
}

let selfCache: ProcessIdentity | undefined

export function selfIdentity(): ProcessIdentity {
  if (selfCache === undefined || selfCache.pid !== process.pid) {
    const id: ProcessIdentity = { pid: process.pid, host: os.hostname() }
    const boot = bootId()
    const start = boot === undefined ? undefined : processStartTime(process.pid)
    if (boot !== undefined && start !== undefined) {
      id.boot = boot
      id.start = start
    }
    selfCache = id
  }
  return selfCache
}

/** Signal-0 probe: true while some process has this pid (EPERM: it exists, owned by another user). */
export function pidExists(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether the process a lock names is still running. A holder on another host cannot be
 * checked from here and counts as alive (a shared volume must never get two writers).
 */
export function holderAlive(holder: { pid: number; host: string; boot?: unknown; start?: unknown }): boolean {
  if (holder.host !== os.hostname()) return true
  const boot = bootId()
  if (boot !== undefined && typeof holder.boot === 'string' && typeof holder.start === 'string') {
    if (holder.boot !== boot) return false
    const start = processStartTime(holder.pid)
    if (start !== undefined) return start === holder.start
    // Not visible in /proc: gone, or hidden from us (procfs mounted with hidepid). The probe
    // tells the two apart; a hidden process still answers it (EPERM).
  }
  return pidExists(holder.pid)
}
