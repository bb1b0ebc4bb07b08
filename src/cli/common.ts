/**
 * What every command shares: the log argument (checked, with a hint), the common flags, and the
 * action wrapper that turns any failure into one stderr line and a documented exit code.
 */
import { type Command, Option } from 'commander'
import { otherLogs } from '../format/log-names.js'
import { checkLogPath } from '../index.js'
import { guardStdoutPipe, reportError, usageError, warn } from './output.js'

export interface CommonFlags {
  json?: boolean
  verbose?: boolean
  progress?: boolean
}

export function addCommonOptions(cmd: Command, opts: { json: string; progress?: boolean }): Command {
  cmd.addOption(new Option('--json', opts.json))
  if (opts.progress) cmd.addOption(new Option('--no-progress', 'no progress bar or progress lines on stderr'))
  cmd.addOption(new Option('--verbose', 'print stack traces with errors'))
  return cmd
}

/** The flags that were given (commander leaves the others undefined), under their option names. */
export function given<T extends object, K extends keyof T>(flags: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => flags[k] !== undefined).map((k) => [k, flags[k]])) as Partial<Pick<T, K>>
}

/**
 * The log argument, checked by the library's one rule before anything else runs (a replay
 * loads its handler module only after this: a missing directory is exit 1, not 3), with a
 * hint when the directory holds no file of this log. Returns the log's active file.
 */
export async function resolveLog(arg: string, opts: { quiet?: boolean } = {}): Promise<string> {
  if (!arg || arg.trim() === '') throw usageError('missing log path')
  const { active, file, dir } = await checkLogPath(arg)
  const others = opts.quiet ? undefined : await otherLogs(active)
  if (others) warn(`no files of log ${file} in ${dir} (nothing logged yet, or a typo?)` + (others.length > 0 ? `; logs there: ${others.slice(0, 5).join(', ')}` : ''))
  return active
}

/**
 * Wrap a command action: its return value is the exit code, and any error becomes one line
 * on stderr (a stack trace only with --verbose) and the exit code of its kind. A closed
 * stdout pipe (`dletter inspect | head`) ends the process quietly.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command
    const verbose = cmd?.opts?.().verbose === true
    guardStdoutPipe()
    try {
      process.exitCode = (await fn(...args)) ?? 0
    } catch (err) {
      process.exitCode = reportError(err, verbose)
    }
  }
}

/**
 * SIGINT/SIGTERM abort the current operation gracefully (finish in-flight work, write a
 * checkpoint, release locks). A second signal exits at once, which is still safe: every
 * command is crash-safe, the graceful path only saves redoing work.
 */
export function abortOnSignals(onFirst: (signal: NodeJS.Signals) => void): { signal: AbortSignal; dispose: () => void; received: () => NodeJS.Signals | undefined } {
  const ac = new AbortController()
  let got: NodeJS.Signals | undefined
  const handler = (sig: NodeJS.Signals) => {
    if (got) {
      process.stderr.write(`dletter: second ${sig}: exiting now (safe; the next run resumes from the last checkpoint)\n`)
      process.exit(130)
    }
    got = sig
    onFirst(sig)
    ac.abort()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: ac.signal,
    received: () => got,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
