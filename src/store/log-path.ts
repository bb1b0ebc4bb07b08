import fsp from 'node:fs/promises'
import { DeadLetterError } from '../base/errors.js'
import { type LogPaths, logPaths } from './segments.js'

/**
 * The log argument is the active file's path, as given to Logger.open. The file itself may
 * not exist (nothing failed yet, or it was rotated away); its directory must.
 */
export async function resolveLogPath(what: string, logPath: unknown): Promise<LogPaths> {
  if (typeof logPath !== 'string' || logPath.trim() === '') {
    throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${what}() needs the log file path, got ${typeof logPath === 'string' ? 'an empty string' : typeof logPath}`)
  }
  const st = await fsp.stat(logPath).catch(() => undefined)
  if (st?.isDirectory()) {
    throw new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${what}(): ${logPath} is a directory; pass the log file path (as given to Logger.open)`)
  }
  const paths = logPaths(logPath)
  let dir
  try {
    dir = await fsp.stat(paths.dir)
  } catch (err) {
    throw new DeadLetterError('DLQ_NOT_FOUND', `dlq: ${what}(): no such directory: ${paths.dir} (from log path ${logPath})`, { cause: err })
  }
  if (!dir.isDirectory()) throw new DeadLetterError('DLQ_NOT_FOUND', `dlq: ${what}(): ${paths.dir} is not a directory (from log path ${logPath})`)
  return paths
}
