/**
 * The roll-forward half of a journaled rewrite, shared by the rewrite itself and by crash
 * recovery: complete temp outputs get fresh replayer-owned segment names, then the source
 * segment goes. Between the two an entry can be in both logs, never in neither.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { ioError } from '../base/errors.js'
import { fsyncDir } from '../base/fs-safe.js'
import { type LogPaths, maxSeq, segmentName } from './segments.js'
import type { RewritePaths } from './journal.js'
import { markedSeqs, readOutputMarks } from './marks.js'

/** Give the complete temp outputs fresh replayer-owned segment names. */
export async function publishOutputs(paths: LogPaths, rp: RewritePaths): Promise<{ retry?: string; permanent?: string }> {
  const out: { retry?: string; permanent?: string } = {}
  let marked: { retry: number; permanent: number } | undefined
  for (const [tmp, fam, key] of [
    [rp.retryTmp, paths.retry, 'retry'],
    [rp.permanentTmp, paths.permanent, 'permanent'],
  ] as const) {
    if (!fs.existsSync(tmp)) continue
    marked ??= markedSeqs(paths, await readOutputMarks(paths))
    // Fresh at this moment: we hold the replay lock, and only its holder creates `rN` names.
    const seq = Math.max(await maxSeq(fam, 'replayer'), marked[key]) + 1
    const name = path.join(paths.dir, segmentName(fam, 'replayer', seq))
    try {
      await fsp.rename(tmp, name)
    } catch (err) {
      throw ioError(`rename ${tmp}`, err)
    }
    out[key] = name
  }
  await fsyncDir(paths.dir)
  return out
}
