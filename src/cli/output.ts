/**
 * Exit codes, error reporting and text formatting shared by every command. Scripts (cron,
 * alerting) depend on the exit codes, so each failure maps to exactly one of them here.
 */
import path from 'node:path'
import { DeadLetterError } from '../base/errors.js'

export const EXIT = {
  OK: 0,
  USAGE: 1,
  LOCKED: 2,
  FAILURE: 3,
  /** A second SIGINT/SIGTERM: exit at once (128 + SIGINT, the shell's convention). */
  INTERRUPTED: 130,
} as const

export const EXIT_CODES_HELP = `Exit codes:
  0    done (also when items were requeued or moved to the permanent log, and after a
       first SIGINT/SIGTERM that stopped the run cleanly)
  1    usage error: unknown flag, bad value, missing log directory, purge without --yes
  2    another replay, requeue or purge holds the replay lock of this log (DLQ_REPLAY_LOCKED)
  3    I/O error, the handler or transform module could not be loaded, or a replay ended before it
       finished (e.g. the handler called process.exit)
  130  a second SIGINT/SIGTERM: exited at once (safe; the next run resumes from the last checkpoint)`

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
export function flagName(option: string): string {
  return '--' + option.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

/** The library's error codes that are not a failure (exit 3). */
const EXIT_OF: Record<string, number> = { DLQ_REPLAY_LOCKED: EXIT.LOCKED, DLQ_INVALID_OPTION: EXIT.USAGE, DLQ_INVALID_ARGUMENT: EXIT.USAGE, DLQ_NOT_FOUND: EXIT.USAGE }

export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode
  return (err instanceof DeadLetterError && EXIT_OF[err.code]) || EXIT.FAILURE
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
  // Messages may quote stored text or paths: terminal-safe like everything else we print.
  process.stderr.write(`dletter: ${terminalSafe(messageOf(err))}\n`)
  if (verbose) {
    let e: unknown = err
    while (e instanceof Error) {
      process.stderr.write(`${terminalSafe(e.stack ?? e.message)}\n`)
      e = e.cause
      if (e !== undefined) process.stderr.write('caused by: ')
    }
    if (e !== undefined && !(e instanceof Error)) process.stderr.write(`${terminalSafe(String(e))}\n`)
  }
  return code
}

export function warn(message: string): void {
  process.stderr.write(`dletter: warning: ${terminalSafe(message.replace(/^dlq: /, ''))}\n`)
}

/** Files a listing or a count could not read to the end (the rest of the log was read). */
export function warnReadErrors(errors: ReadonlyArray<{ file: string; error: string }>): void {
  for (const e of errors) warn(`could not read all of ${path.basename(e.file)}: ${e.error}`)
}

export function note(message: string): void {
  process.stderr.write(`dletter: ${terminalSafe(message)}\n`)
}

// ----------------------------------------------------------------------------- stdout

/**
 * Write to the real stdout, even while a handler's writes are diverted to stderr: taken before
 * any handler module is loaded, so while `divertStdout()` is in force it is the only way there.
 */
export const stdoutWrite = process.stdout.write.bind(process.stdout) as (text: string, cb?: (err?: Error | null) => void) => boolean

let diverted = false
/**
 * From now on, whatever else writes to process.stdout (a handler's console.log,
 * process.stdout.write) goes to stderr, so stdout carries our own output alone (`--json`
 * appended to a file by cron). Never undone: a handler call that outlived its timeout may
 * still print after the summary. Output written straight to fd 1 cannot be caught.
 */
export function divertStdout(): void {
  if (diverted) return
  diverted = true
  const toStderr = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean =>
    (process.stderr.write as (c: unknown, e?: unknown, cb?: unknown) => boolean)(chunk, encoding, cb)
  process.stdout.write = toStderr as typeof process.stdout.write
}

/**
 * Write to stdout respecting backpressure, so listing a huge log through a slow pipe keeps
 * memory bounded. A closed pipe (`dletter inspect | head`) ends the process quietly.
 */
export function writeOut(text: string): Promise<void> | undefined {
  if (stdoutWrite(text)) return undefined
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

/**
 * Control characters a terminal acts on instead of showing: C0 (ESC starts window-title,
 * line-clearing and cursor sequences; BEL, CR, backspace), DEL, C1 (0x9b is a one-byte CSI),
 * bidi embeddings/overrides/isolates and marks (they reorder what follows on the line), and
 * the Unicode line/paragraph separators. Tab and newline are left to the caller.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * Stored text (reasons, ids, payloads, corrupt lines, paths) made safe to print on a
 * terminal: each control character becomes a visible escape (`\x1b`, `\u202e`). Not
 * reversible (a literal backslash is left as is); `--json` output is the exact record.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** One argument of a suggested command line: POSIX single-quoted (so `'`, `$` and spaces survive a paste) and terminal-safe. */
export function shellArg(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : terminalSafe(`'${text.replace(/'/g, `'\\''`)}'`)
}

/** Keep a preview on one line, within `max` characters and safe for a terminal. */
export function preview(text: string, max: number): string {
  const flat = terminalSafe(text.replace(/[\n\t]+/g, ' '))
  if (max <= 1) return ''
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat
}

/** An entry's reason for one-line listings, with what first put it in the log when that differs: "last ← first". */
export function reasonWithFirst(e: { reason: string | null; firstReason?: { reason: string | null } }): string {
  const last = e.reason ?? '(no reason)'
  return e.firstReason && e.firstReason.reason !== e.reason ? `${last} ← ${e.firstReason.reason ?? '(no reason)'}` : last
}
