/**
 * Purging the corrupt quarantine: it is one file appended only by the replay-lock holder
 * (us, during a purge), so it is rewritten whole: kept records to a temp file, fsync, an
 * atomic rename over it. A crash leaves the old file or the new one, and recovery deletes a
 * left-over temp file.
 */
import fsp from 'node:fs/promises'
import { ioError } from '../base/errors.js'
import { fsyncDir, unlinkIfExists } from '../base/fs-safe.js'
import { readLines } from '../format/lines.js'
import type { LogPaths } from './segments.js'
import { type CorruptRecord, parseCorruptRecord } from '../format/entry.js'
import { rewritePaths } from './journal.js'
import { sizeText } from './size-text.js'
import { copyLine, tmpOutput } from './temp-output.js'

export interface CorruptRewriteOptions {
  /** Is this record removed? Lines that are not records at all are always kept. */
  select: (rec: CorruptRecord, line: string) => boolean
  limit?: number
  maxRecordSize: number
  signal?: AbortSignal
  /** A dry run: count what a run would remove, writing nothing. */
  countOnly?: boolean
}

export async function rewriteCorrupt(paths: LogPaths, o: CorruptRewriteOptions): Promise<{ selected: number; kept: number; aborted: boolean }> {
  const rp = rewritePaths(paths)
  const st = await fsp.lstat(paths.corrupt).catch(() => undefined)
  if (!st || !st.isFile()) return { selected: 0, kept: 0, aborted: false }
  // Count-only runs take no lock: the temp file's name may be a running purge's.
  const out = o.countOnly ? undefined : tmpOutput(rp.corruptTmp, st.mode & 0o777)
  let selected = 0
  let kept = 0
  let problem: string | undefined
  const max = o.limit ?? Infinity
  try {
    const res = await readLines(
      paths.corrupt,
      false,
      0,
      o.maxRecordSize,
      {
        line: (buf, s, e) => {
          const bytes = buf.subarray(s, e)
          if (selected < max) {
            const line = bytes.toString('utf8')
            const rec = parseCorruptRecord(line)
            if (rec && o.select(rec, line)) {
              selected++
              return
            }
          }
          kept++
          return out?.append((sink) => copyLine(sink, bytes))
        },
        oversized: (_h, _o, _n, length) => {
          problem = `holds a line of ${length} bytes (over the ${sizeText(o.maxRecordSize)} line limit)`
        },
      },
      () => problem !== undefined || (o.signal?.aborted ?? false),
    )
    if (res.error) problem = res.error.message
    const aborted = o.signal?.aborted ?? false
    if (problem !== undefined || selected === 0 || aborted || !out) {
      out?.abandon()
      if (out) await unlinkIfExists(rp.corruptTmp)
      if (problem !== undefined) throw ioError(`rewrite ${paths.corrupt}`, new Error(`it ${problem}; left unchanged`))
      return { selected: out || aborted ? 0 : selected, kept, aborted }
    }
    await out.close()
    if (out.records === 0) await unlinkIfExists(paths.corrupt)
    else await fsp.rename(rp.corruptTmp, paths.corrupt)
    await fsyncDir(paths.dir)
  } catch (err) {
    out?.abandon()
    if (out) await unlinkIfExists(rp.corruptTmp).catch(() => {})
    throw ioError(`rewrite ${paths.corrupt}`, err)
  }
  return { selected, kept, aborted: false }
}
