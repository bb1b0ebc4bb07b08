/**
 * Ship one local file (a retry or permanent segment, or the corrupt quarantine) into the
 * database: stream its lines, turn each into a row, insert in batches with at most two
 * batches in flight (reading overlaps the round trips). Resolves only when every batch is
 * committed; the caller deletes the file after that, never before.
 */
import path from 'node:path'
import { readLines, type LineHandler, type ReadResult } from '../format/lines.js'
import type { Db } from './db.js'
import { insertIsolating, rowBytes } from './insert.js'
import { corruptRow, entryKey, quarantineLineRow, type Row, segmentLineRow } from './rows.js'
import type { Tables } from './schema.js'
import { OversizedKeeper } from '../store/oversized.js'
import type { Kind } from '../format/model.js'

export interface ShipTarget {
  db: Db
  tables: Tables
  host: string
  /** The log's name in the database (the `log` column). */
  log: string
  /**
   * The log's real path (its directory through fs.realpath): part of every entry key, so a
   * file reached through any spelling of its path (a symlinked directory) gets the same keys.
   */
  origin: string
}

export type FileKind = Kind

export interface FileCounts {
  entries: number
  inserted: number
  retry: number
  permanent: number
  corrupt: number
  /** Entries the server refused, shipped as corrupt rows (counted in `corrupt`, not as what they were read as). */
  refused: number
  bytes: number
}

export interface ShipFileResult extends FileCounts {
  read: ReadResult
}

const IN_FLIGHT = 2

export async function shipFile(
  target: ShipTarget,
  file: { path: string; key: string; gz: boolean },
  kind: FileKind,
  start: number,
  o: {
    batchSize: number
    /** At most this much row text in one batch (rowBytes; BATCH_BYTES, smaller in tests). */
    batchBytes: number
    maxRecordSize: number
    mode: number
    shouldStop: () => boolean
  },
): Promise<ShipFileResult> {
  const source = path.basename(file.key)
  const counts: FileCounts = { entries: 0, inserted: 0, retry: 0, permanent: 0, corrupt: 0, refused: 0, bytes: 0 }
  let batch: Row[] = []
  let batchBytes = 0
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  // Over-limit lines are kept whole on this host exactly as a local replay keeps them.
  const aside = new OversizedKeeper(path.dirname(file.key), o.mode)

  const flush = async (): Promise<void> => {
    // After a failed batch nothing more is sent: the file is shipped again as a whole next time.
    if (batch.length === 0 || failure !== undefined) return
    const rows = batch
    batch = []
    batchBytes = 0
    const p = insertIsolating(target.db, target.tables, target.host, target.log, rows).then(
      (r) => {
        counts.inserted += r.inserted
        for (const was of r.refused) {
          counts[was]--
          counts.corrupt++
          counts.refused++
        }
      },
      (err) => {
        failure ??= err
      },
    )
    const tracked = p.finally(() => inFlight.delete(tracked))
    inFlight.add(tracked)
    while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
  }
  const push = (row: Row, bytes: number): void | Promise<void> => {
    batch.push(row)
    batchBytes += bytes
    if (batch.length >= o.batchSize || batchBytes >= o.batchBytes) return flush()
  }
  // A batch is capped by its text as well as by rows (BATCH_BYTES says why): a row that would
  // take it past the cap starts the next one — alone, when it is larger than the cap itself.
  const add = (row: Row): void | Promise<void> => {
    counts.entries++
    counts[row.state]++
    const bytes = rowBytes(row)
    if (batch.length > 0 && batchBytes + bytes > o.batchBytes) return flush().then(() => push(row, bytes))
    return push(row, bytes)
  }
  const now = Date.now()
  const handler: LineHandler = {
    line(buf, s, e, offset, _next, torn) {
      const bytes = buf.subarray(s, e)
      if (kind === 'corrupt') return add(quarantineLineRow(target.host, target.origin, source, offset, bytes, now))
      return add(segmentLineRow(target.host, target.origin, source, offset, bytes, kind, torn, now))
    },
    // An over-limit line's bytes are kept whole in a side file on this host (as a local
    // replay does); the database gets a corrupt row with the head and the file's name.
    oversizedBytes(offset, piece) {
      aside.write(source, offset, piece)
    },
    oversized(head, offset, _next, length) {
      const kept = aside.finish()
      const why = `record of ${length} bytes exceeds maxRecordSize${kept ? `; full bytes kept on this host in ${kept}` : ''}`
      const row = corruptRow(entryKey(target.host, target.origin, source, offset, head), source, offset, head, why, now)
      return add(row)
    },
  }
  const stop = () => failure !== undefined || o.shouldStop()
  let read: ReadResult
  try {
    read = await readLines(file.path, file.gz, start, o.maxRecordSize, handler, stop)
    if (read.badStart) read = await readLines(file.path, file.gz, 0, o.maxRecordSize, handler, stop)
    await flush()
    await Promise.all(inFlight)
  } finally {
    aside.abandon()
    await Promise.allSettled(inFlight)
  }
  if (failure !== undefined) throw failure
  counts.bytes = read.end - start
  return { ...counts, read }
}
