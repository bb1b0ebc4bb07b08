/**
 * Output files of a rewrite: temp names matching no segment pattern (no replay or stats ever
 * sees an unfinished one), created exclusively, and a byte-for-byte line copy.
 */
import fs from 'node:fs'
import path from 'node:path'
import { ioError } from '../base/errors.js'
import { CREATE_EXCL_FLAGS } from '../base/fs-safe.js'
import { OutputFile } from './outputs.js'
import type { ByteSink } from '../format/sink.js'

export function tmpOutput(file: string, mode: number): OutputFile {
  return new OutputFile(async () => {
    try {
      return { file, fd: fs.openSync(file, CREATE_EXCL_FLAGS | fs.constants.O_APPEND, mode) }
    } catch (err) {
      throw ioError(`create ${file}`, err)
    }
  }, path.dirname(file))
}

export function copyLine(sink: ByteSink, bytes: Buffer): void {
  sink.ensure(bytes.length + 1)
  sink.len += bytes.copy(sink.buf, sink.len)
  sink.byte(0x0a)
}
