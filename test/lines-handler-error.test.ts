/**
 * A handler's own error is not a read error of the file: readLines rejects with it, for a
 * gzip segment as for a plain one. (Reported as `error`, it would read as an unreadable rest
 * of the .gz, which replay quarantines.)
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { readLines } from '../src/format/lines.js'
import { tmpDir } from './helpers/tmp.js'

describe('readLines and a handler that throws', () => {
  for (const gz of [false, true]) {
    for (const async of [false, true]) {
      it(`rejects with the handler's error (${gz ? 'gzip' : 'plain'}, ${async ? 'rejected promise' : 'thrown'})`, async () => {
        const data = Buffer.from(Array.from({ length: 50 }, (_, i) => `line-${i}`).join('\n') + '\n')
        const file = path.join(tmpDir(), gz ? 'seg.log.gz' : 'seg.log')
        fs.writeFileSync(file, gz ? zlib.gzipSync(data) : data)
        const boom = Object.assign(new Error('no space left'), { code: 'ENOSPC' })
        let n = 0
        const read = readLines(
          file,
          gz,
          0,
          1024,
          {
            line: () => {
              if (++n < 3) return
              if (async) return Promise.reject(boom)
              throw boom
            },
            oversized: () => {},
          },
          () => false,
        )
        await expect(read).rejects.toBe(boom)
        expect(n).toBe(3)
      })
    }
  }
})
