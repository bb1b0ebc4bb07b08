/**
 * One entry of a local log, read where a listing saw it (file + byte offset): an entry page
 * costs one line's read (plus the decompression before it in a .gz), not a scan. The file
 * name must be one of this log's own files, matched exactly, so a crafted reference can
 * never make the server read anything else.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { fingerprint } from '../format/fingerprint.js'
import type { InspectEntry, LogKind } from '../admin/types.js'
import { parseEnvelope } from '../format/envelope.js'
import { readLines } from '../format/lines.js'
import { replayDefaults } from '../base/options.js'
import { listSegments, logPaths } from '../store/segments.js'

async function regularFile(file: string): Promise<boolean> {
  const st = await fsp.lstat(file).catch(() => undefined)
  return st?.isFile() === true
}

async function fileOf(logPath: string, log: LogKind, name: string): Promise<{ path: string; gz: boolean } | undefined> {
  const paths = logPaths(logPath)
  if (log === 'corrupt') return name === path.basename(paths.corrupt) && (await regularFile(paths.corrupt)) ? { path: paths.corrupt, gz: false } : undefined
  const fam = log === 'retry' ? paths.retry : paths.permanent
  if (name === path.basename(fam.active)) return (await regularFile(fam.active)) ? { path: fam.active, gz: false } : undefined
  const seg = (await listSegments(fam)).find((s) => path.basename(s.path) === name)
  return seg && { path: seg.path, gz: seg.gz }
}

/** The line at `offset` of that file, or undefined when the file or a line start is not there any more. */
async function lineAt(file: { path: string; gz: boolean }, offset: number): Promise<string | undefined> {
  let line: string | undefined
  try {
    const r = await readLines(
      file.path,
      file.gz,
      offset,
      replayDefaults.maxRecordSize,
      {
        line: (buf, s, e, _off, _next, torn) => {
          if (!torn) line = buf.subarray(s, e > s && buf[e - 1] === 0x0d ? e - 1 : e).toString('utf8')
        },
        oversized: () => {},
      },
      () => line !== undefined,
    )
    if (r.badStart) return undefined
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return line
}

export async function readEntryAt(logPath: string, log: LogKind, name: string, offset: number): Promise<InspectEntry | undefined> {
  const file = await fileOf(logPath, log, name)
  if (!file) return undefined
  const line = await lineAt(file, offset)
  if (line === undefined) return undefined
  const base = { log, file: file.path, offset, line }
  if (log === 'corrupt') {
    let rec: Record<string, unknown>
    try {
      rec = JSON.parse(line) as Record<string, unknown>
    } catch {
      return { ...base, ts: 0, attempt: 0, reason: 'unreadable quarantine record', fingerprint: fingerprint('unreadable quarantine record'), raw: line }
    }
    const reason = typeof rec.error === 'string' ? rec.error : null
    return {
      ...base,
      ts: typeof rec.ts === 'number' ? rec.ts : 0,
      attempt: 0,
      reason,
      fingerprint: fingerprint(reason),
      raw: typeof rec.raw === 'string' ? rec.raw : undefined,
      rawEncoding: typeof rec.rawEncoding === 'string' ? rec.rawEncoding : undefined,
      source: {
        segment: typeof rec.segment === 'string' ? rec.segment : undefined,
        offset: typeof rec.offset === 'number' ? rec.offset : undefined,
        length: typeof rec.length === 'number' ? rec.length : undefined,
      },
    }
  }
  let env
  try {
    env = parseEnvelope(line)
  } catch (err) {
    const reason = `unparseable line: ${(err as Error).message}`
    return { ...base, ts: 0, attempt: 0, reason, fingerprint: fingerprint(reason), raw: line }
  }
  const { payload, ...header } = env
  return { ...base, ...header, fingerprint: fingerprint(env.reason), payload }
}
