/**
 * Exit codes, error reporting and text formatting shared by every command. Scripts (cron,
 * alerting) depend on the exit codes, so each failure maps to exactly one of them here.
 */
import { DeadLetterError } from '../errors.js'

export const EXIT = {
  OK: 0,
  USAGE: 1,
  LOCKED: 2,
  FAILURE: 3,
} as const

export const EXIT_CODES_HELP = `Exit codes:
  0  done (also when items were requeued or moved to the permanent log)
  1  usage error: unknown flag, bad value, missing log directory, purge without --yes
  2  another replay holds the replay lock of this log (DLQ_REPLAY_LOCKED)
  3  I/O error, or the handler module could not be loaded`

/** An error the CLI explains itself: one line on stderr and a chosen exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'CliError'
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, EXIT.USAGE)
}

/** `maxWait` → `--max-wait`, so library validation messages name the flag the user typed. */
function flagName(option: string): string {
  return '--' + option.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode
  if (err instanceof DeadLetterError) {
    switch (err.code) {
      case 'DLQ_REPLAY_LOCKED':
        return EXIT.LOCKED
      case 'DLQ_INVALID_OPTION':
      case 'DLQ_INVALID_ARGUMENT':
        return EXIT.USAGE
      default:
        return EXIT.FAILURE
    }
  }
  return EXIT.FAILURE
}

export function messageOf(err: unknown): string {
  if (err instanceof DeadLetterError) {
    let msg = err.message.replace(/^dlq: /, '')
    if (err.code === 'DLQ_INVALID_OPTION') msg = msg.replace(/option `(\w+)`/g, (_, o: string) => flagName(o))
    if (err.code === 'DLQ_REPLAY_LOCKED') msg += '; try again when it has finished'
    return msg
  }
  if (err instanceof Error) return err.message
  return String(err)
}

/** Report a failure the way every command does and return the exit code to use. */
export function reportError(err: unknown, verbose: boolean): number {
  const code = exitCodeOf(err)
  process.stderr.write(`dletter: ${messageOf(err)}\n`)
  if (verbose) {
    let e: unknown = err
    while (e instanceof Error) {
      process.stderr.write(`${e.stack ?? e.message}\n`)
      e = e.cause
      if (e !== undefined) process.stderr.write('caused by: ')
    }
    if (e !== undefined && !(e instanceof Error)) process.stderr.write(`${String(e)}\n`)
  }
  return code
}

export function warn(message: string): void {
  process.stderr.write(`dletter: warning: ${message.replace(/^dlq: /, '')}\n`)
}

export function note(message: string): void {
  process.stderr.write(`dletter: ${message}\n`)
}

/**
 * Write to stdout respecting backpressure, so listing a huge log through a slow pipe keeps
 * memory bounded. A closed pipe (`dletter inspect | head`) ends the process quietly.
 */
export function writeOut(text: string): Promise<void> | undefined {
  if (process.stdout.write(text)) return undefined
  return new Promise((resolve) => process.stdout.once('drain', resolve))
}

let pipeGuard = false
export function guardStdoutPipe(): void {
  if (pipeGuard) return
  pipeGuard = true
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.OK)
    throw err
  })
}

// ----------------------------------------------------------------------------- formatting

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

/** 93784000 → "1d 2h", 4500 → "4.5s": two most significant units, for ages and durations. */
export function formatDuration(ms: number): string {
  const neg = ms < 0
  let rest = Math.abs(ms)
  if (rest < 1000) return `${neg ? '-' : ''}${Math.round(rest)}ms`
  if (rest < 60_000) return `${neg ? '-' : ''}${Number((rest / 1000).toFixed(rest < 10_000 ? 1 : 0))}s`
  const parts: string[] = []
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    const q = Math.floor(rest / size)
    if (q > 0 || parts.length > 0) parts.push(`${q}${unit}`)
    rest -= q * size
    if (parts.length === 2) break
  }
  return (neg ? '-' : '') + parts.filter((p) => !p.startsWith('0')).join(' ')
}

/** `2025-11-22 06:38:05Z`: sortable, unambiguous, short enough for one-line listings. */
export function formatTime(ts: number | undefined): string {
  if (ts === undefined || !Number.isFinite(ts)) return '-'
  return new Date(ts).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z')
}

/** Keep a preview on one line and within `max` characters. */
export function preview(text: string, max: number): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ')
  if (max <= 1) return ''
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat
}

export function padStart(s: string | number, n: number): string {
  return String(s).padStart(n)
}

export function padEnd(s: string | number, n: number): string {
  return String(s).padEnd(n)
}
