/**
 * What every command shares: resolving and checking the log path, the common flags, and the
 * action wrapper that turns any failure into one stderr line and a documented exit code.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { type Command, Option } from 'commander'
import { type LogPaths, listSegments, logPaths } from '../store/segments.js'
import { note, reportError, usageError, warn } from './output.js'
import { Progress } from './progress.js'

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

export interface ResolvedLog {
  arg: string
  paths: LogPaths
  /** False when the directory exists but holds no file of this log. */
  found: boolean
}

/**
 * The log argument is the active file's path (`/var/lib/app/dlq/orders.log`), as given to
 * Logger.open. The file itself may not exist (rotated away, or nothing failed yet); the
 * directory must.
 */
export async function resolveLog(arg: string, opts: { quiet?: boolean } = {}): Promise<ResolvedLog> {
  if (!arg || arg.trim() === '') throw usageError('missing log path')
  const abs = path.resolve(arg)
  const st = await fsp.stat(abs).catch(() => undefined)
  if (st?.isDirectory()) {
    const hint = await guessLogs(abs)
    throw usageError(
      `${arg} is a directory; pass the log file path${hint.length > 0 ? `, e.g. ${path.join(arg, hint[0])}` : ' (the path given to Logger.open)'}`,
    )
  }
  const paths = logPaths(abs)
  const dirSt = await fsp.stat(paths.dir).catch(() => undefined)
  if (!dirSt) throw usageError(`no such directory: ${paths.dir} (from log path ${arg})`)
  if (!dirSt.isDirectory()) throw usageError(`${paths.dir} is not a directory (from log path ${arg})`)
  const found = await logExists(paths)
  if (!found && !opts.quiet) {
    const hint = await guessLogs(paths.dir)
    warn(
      `no files of log ${paths.file} in ${paths.dir} (nothing logged yet, or a typo?)` +
        (hint.length > 0 ? `; logs there: ${hint.slice(0, 5).join(', ')}` : ''),
    )
  }
  return { arg, paths, found }
}

async function logExists(paths: LogPaths): Promise<boolean> {
  // A log that was shipped or replayed empty keeps its lock files: it exists, it is just empty.
  for (const f of [paths.active, paths.permanentActive, paths.corrupt, paths.writerLock, paths.replayLock]) {
    if (await fsp.lstat(f).then(() => true, () => false)) return true
  }
  return (await listSegments(paths.retry)).length > 0 || (await listSegments(paths.permanent)).length > 0
}

/** Active-file names in a directory that look like dletter logs (they have a lock or siblings). */
async function guessLogs(dir: string): Promise<string[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[])
  const set = new Set<string>()
  for (const n of names) {
    const lock = /^\.(.+)\.lock$/.exec(n)
    if (lock && !lock[1].endsWith('.replay')) set.add(lock[1])
    const perm = /^permanent-(.+)$/.exec(n)
    if (perm && !/\.\d{12}\./.test(perm[1]) && !/\.r\d{12}\./.test(perm[1])) set.add(perm[1])
  }
  return [...set].sort()
}

/**
 * Wrap a command action: its return value is the exit code, and any error becomes one line
 * on stderr (a stack trace only with --verbose) and the exit code of its kind.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command
    const verbose = cmd?.opts?.().verbose === true
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

/**
 * Run a journaled rewrite (requeue, purge) with a progress display. The first SIGINT/SIGTERM
 * stops it after the segment in progress is rolled back; a second one exits at once.
 */
export async function runRewrite<T>(
  label: string,
  showProgress: boolean,
  fn: (signal: AbortSignal, progress: Progress) => Promise<T>,
): Promise<T> {
  const stop = abortOnSignals((sig) => note(`${sig} received: stopping after rolling back the segment in progress (send it again to exit at once)`))
  const progress = new Progress(label, showProgress)
  try {
    return await fn(stop.signal, progress)
  } finally {
    progress.stop()
    stop.dispose()
  }
}
