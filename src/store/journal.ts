/**
 * The rewrite journal: one small file per log naming the permanent segment a requeue or
 * purge is rewriting and how far it got. Its presence is what tells recovery that temp
 * outputs are complete (committed) or must be dropped (moving); without it, temp files are
 * always partial, because they are renamed before the journal is removed.
 */
import path from 'node:path'
import { readSmallFile, writeFileAtomic } from '../base/fs-safe.js'
import type { LogPaths } from './segments.js'
import type { SideLogMark } from './side-log.js'

export interface RewritePaths {
  journal: string
  retryTmp: string
  permanentTmp: string
  corruptTmp: string
}

export function rewritePaths(paths: LogPaths): RewritePaths {
  return {
    journal: path.join(paths.dir, `.${paths.file}.rewrite`),
    retryTmp: path.join(paths.dir, `.${paths.file}.rewrite-retry.tmp`),
    permanentTmp: path.join(paths.dir, `.${paths.file}.rewrite-permanent.tmp`),
    corruptTmp: path.join(paths.dir, `.${paths.file}.rewrite-corrupt.tmp`),
  }
}

export type JournalState = 'moving' | 'committed'

export interface Journal {
  v: 1
  op: string
  /** Basename of the source segment without `.gz`. */
  source: string
  state: JournalState
  at: number
  /** The side log (audit) and its size before this segment: a rollback cuts it back. */
  side?: SideLogMark
}

export type JournalRead = { status: 'none' } | { status: 'ok'; journal: Journal } | { status: 'unreadable' }

export async function readJournal(paths: LogPaths): Promise<JournalRead> {
  const raw = await readSmallFile(rewritePaths(paths).journal)
  if (raw === undefined) return { status: 'none' }
  try {
    const j = JSON.parse(raw) as Journal
    if (j.v === 1 && typeof j.source === 'string' && typeof j.op === 'string' && (j.state === 'moving' || j.state === 'committed')) {
      return { status: 'ok', journal: j }
    }
  } catch {}
  return { status: 'unreadable' }
}

export function writeJournal(paths: LogPaths, op: string, source: string, state: JournalState, side?: SideLogMark): Promise<void> {
  const j: Journal = { v: 1, op, source, state, at: Date.now() }
  if (side) j.side = side
  return writeFileAtomic(rewritePaths(paths).journal, JSON.stringify(j) + '\n', 0o600)
}

/** The journal of an interrupted rewrite, if any (read-only: for stats). */
export async function pendingRewrite(paths: LogPaths): Promise<{ op: string; source: string; state: string } | null> {
  const r = await readJournal(paths).catch(() => ({ status: 'none' }) as const)
  if (r.status === 'none') return null
  if (r.status === 'unreadable') return { op: 'unknown', source: 'unknown', state: 'unreadable' }
  return { op: r.journal.op, source: r.journal.source, state: r.journal.state }
}
