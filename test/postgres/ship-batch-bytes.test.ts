/**
 * A ship batch is capped by its text as well as by its row count: capped by rows alone, a
 * batch of large records (2000 × 16 MiB with the defaults) would be one JSON document beyond
 * V8's longest string and PostgreSQL's 1 GB parameter, and every ship would fail. Records of
 * several MiB against a small cap (the real one is 32 MiB, src/postgres/insert.ts): batches
 * split by size, a record larger than the cap goes alone, every entry arrives once.
 */
import path from 'node:path'
import { expect, it } from 'vitest'
import { poolDb, type Db } from '../../src/postgres/db.js'
import { tablesFor } from '../../src/postgres/schema.js'
import { shipFile } from '../../src/postgres/ship-file.js'
import { envLine, writeSegment } from '../fixtures/counts-util.js'
import { tmpDir } from '../helpers/tmp.js'
import { schemaOf, useCluster } from './setup.js'

const pg = useCluster()

const MiB = 1024 * 1024
const CAP = 4 * MiB
// Payload sizes: several below the cap that fit two or three to a batch, one above it, small ones between.
const SIZES = [1.5, 1.5, 1.5, 6, 0.001, 0.001, 2.5, 2.5, 0.5, 3.9, 0.001, 1]

it('batches are split by size; a record larger than the cap goes alone; every entry arrives once', async () => {
  const store = await pg.store()
  const dir = tmpDir()
  const logPath = path.join(dir, 'big.log')
  const lines = SIZES.map((mib, i) => envLine({ id: `big-${i}`, payload: { i, blob: String.fromCharCode(97 + i).repeat(Math.round(mib * MiB)) } }))
  const seg = writeSegment(logPath, 1, lines)

  // The real server, its INSERTs observed: how many rows each carried, and its document's length.
  const inner = poolDb(pg.url, { max: 4, applicationName: 'ship-batch-bytes', connectTimeout: 10_000, onIdleError: () => {} })
  const batches: Array<{ rows: number; chars: number }> = []
  const db: Db = {
    ...inner,
    async query<R>(text: string, params?: unknown[]) {
      if (text.trimStart().startsWith('INSERT INTO')) {
        const doc = params![2] as string
        batches.push({ rows: (JSON.parse(doc) as unknown[]).length, chars: doc.length })
      }
      return inner.query<R>(text, params)
    },
  }
  try {
    const target = { db, tables: tablesFor(schemaOf(store)), host: 'host-a', log: 'big', origin: logPath }
    const r = await shipFile(target, { path: seg, key: seg, gz: false }, 'retry', 0, {
      batchSize: 2000,
      batchBytes: CAP,
      maxRecordSize: 16 * MiB,
      mode: 0o600,
      shouldStop: () => false,
    })
    expect(r).toMatchObject({ entries: SIZES.length, inserted: SIZES.length, retry: SIZES.length, corrupt: 0, refused: 0 })

    // Split by size, though 2000 rows would fit a batch: every batch of several rows within the cap…
    expect(batches.reduce((n, b) => n + b.rows, 0)).toBe(SIZES.length)
    for (const b of batches) if (b.rows > 1) expect(b.chars).toBeLessThanOrEqual(CAP)
    expect(batches.some((b) => b.rows > 1)).toBe(true)
    // …and the 6 MiB record in a batch of its own.
    expect(batches.filter((b) => b.chars > CAP)).toEqual([{ rows: 1, chars: expect.any(Number) }])
    const total = lines.reduce((n, l) => n + l.length, 0)
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(total / CAP))

    // Every entry once, whole.
    const rows = await inner.query<{ id: string; n: string; len: number }>(
      `SELECT id, count(*) OVER (PARTITION BY id) AS n, length(payload->>'blob') AS len FROM "${schemaOf(store)}".entries ORDER BY id`,
    )
    expect(rows.rows).toHaveLength(SIZES.length)
    for (const row of rows.rows) {
      const i = Number(row.id.slice('big-'.length))
      expect(row).toEqual({ id: `big-${i}`, n: '1', len: Math.round(SIZES[i]! * MiB) })
    }
  } finally {
    await inner.close()
  }
}, 120_000)
