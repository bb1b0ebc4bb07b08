/**
 * Which logs a directory holds, read off its file names: the naming of a log's files (its
 * locks, permanent and corrupt logs, sealed segments and their side files) seen from the
 * outside, for messages that point a user at the right path.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'

/** The logs a directory holds, by active-file name (`orders.log`). */
export async function findLogNames(dir: string): Promise<string[]> {
  const names = new Set<string>()
  for (const n of await fsp.readdir(dir).catch(() => [] as string[])) {
    const control = /^\.(.+?)(?:\.replay)?\.(?:lock|counts|seal-request|seal-done)$/.exec(n)
    const file = n.replace(/^(?:permanent|corrupt)-/, '')
    // A segment, compressed or not, or one of its side files (.state, .meta, .gz.tmp, set aside as .1).
    const seg = /^(.+)\.r?\d{12}(\.[^.]+)??(?:\.gz|\.tmp|\.state|\.meta|\.line|\.\d+)*$/.exec(file)
    if (control) names.add(control[1])
    else if (seg) names.add(seg[1] + (seg[2] ?? ''))
    else if (file !== n && !/\.(?:line|\d+)$/.test(file)) names.add(file)
  }
  return [...names].sort()
}

/**
 * The other logs in the directory when it holds no file of this one (a misspelt name, or
 * nothing logged yet); undefined when it does, and when the path or its directory is not
 * there to tell (the operation on it says why).
 */
export async function otherLogs(logPath: string): Promise<string[] | undefined> {
  const abs = path.resolve(logPath)
  if (await fsp.lstat(abs).then(() => true, () => false)) return undefined
  const dir = path.dirname(abs)
  if (!(await fsp.stat(dir).then((s) => s.isDirectory(), () => false))) return undefined
  const names = await findLogNames(dir)
  return names.includes(path.basename(abs)) ? undefined : names
}
