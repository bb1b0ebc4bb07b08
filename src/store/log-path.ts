/**
 * The one rule for a log path argument, at every entry point (the admin functions, replay,
 * ship, serve, the CLI; Logger.open with `create`). The path is the log's active file, as
 * given to Logger.open; the file itself may not exist (nothing failed yet, or it was rotated
 * away), its directory must — except for Logger.open, which creates it.
 *
 *   - not a string, empty, a NUL byte, a name of another log's files → DLQ_INVALID_ARGUMENT
 *   - an existing directory → DLQ_INVALID_ARGUMENT, naming the logs in it
 *   - its directory missing, or not a directory → DLQ_NOT_FOUND
 */
import type fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { DeadLetterError, describe, ioError } from '../base/errors.js'
import { findLogNames } from '../format/log-names.js'
import { type LogPaths, logPaths } from './segments.js'

export type { LogPaths } from './segments.js'

export async function resolveLogPath(what: string, logPath: unknown, opts: { create?: boolean } = {}): Promise<LogPaths> {
  const file = logPathArg(what, logPath)
  if ((await fsp.stat(file).catch(() => undefined))?.isDirectory()) {
    const names = await findLogNames(file)
    const eg = names.length > 0 ? names.slice(0, 3).map((n) => path.join(file, n)).join(' or ') : `${path.join(file, 'app.log')} (the path given to Logger.open)`
    throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${file} is a directory; pass the log file path, e.g. ${eg}`)
  }
  const paths = logPaths(file)
  if (opts.create) return paths
  let dir: fs.Stats
  try {
    dir = await fsp.stat(paths.dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw ioError(`stat ${paths.dir}`, err)
    throw new DeadLetterError('DLQ_NOT_FOUND', `dlq: no such directory: ${paths.dir} (from log path ${file})`, { cause: err })
  }
  if (!dir.isDirectory()) throw new DeadLetterError('DLQ_NOT_FOUND', `dlq: ${paths.dir} is not a directory (from log path ${file})`)
  return paths
}

/**
 * `checkLogPath(path)`, public: the rule on its own, for a tool that must check a path before
 * anything else happens (the CLI, before it loads a replay handler module).
 */
export async function checkLogPath(logPath: string): Promise<{ active: string; dir: string; file: string }> {
  const { active, dir, file } = await resolveLogPath('checkLogPath', logPath)
  return { active, dir, file }
}

/** The part of the rule that needs no file system, for a caller that cannot wait (a constructor). */
export function logPathArg(what: string, logPath: unknown): string {
  if (typeof logPath !== 'string' || logPath.trim() === '') {
    throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${what}() needs the log file path, got ${typeof logPath === 'string' ? JSON.stringify(logPath) : describe(logPath)}`)
  }
  return logPath
}

/**
 * The log's name as an origin records it, the same from every spelling of its path: its
 * active file's path through the real directory (ship keys its rows by it too).
 */
export async function realLogName(paths: LogPaths): Promise<string> {
  try {
    return path.join(await fsp.realpath(paths.dir), path.basename(paths.active))
  } catch (err) {
    throw ioError(`resolve ${paths.dir}`, err)
  }
}
