/**
 * Output files of a rewrite: temp names matching no segment pattern (no replay or stats ever
 * sees an unfinished one), created exclusively, and a byte-for-byte line copy.
 */
import fs from 'node:fs'
import { CREATE_EXCL_FLAGS } from '../base/fs-safe.js'
import { OutputFile } from './outputs.js'
import type { ByteSink } from '../format/sink.js'

export function tmpOutput(file: string, mode: number): OutputFile {
  return OutputFile.shared(file, mode, CREATE_EXCL_FLAGS | fs.constants.O_APPEND)
}

export function copyLine(sink: ByteSink, bytes: Buffer): void {
  sink.ensure(bytes.length + 1)
  sink.len += bytes.copy(sink.buf, sink.len)
  sink.byte(0x0a)
}
