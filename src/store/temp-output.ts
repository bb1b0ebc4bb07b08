/**
 * Output files of a rewrite: temp names matching no segment pattern (no replay or stats ever
 * sees an unfinished one), created exclusively, and a byte-for-byte line copy.
 */
import fs from 'node:fs'
import path from 'node:path'
import { isUtf8 } from 'node:buffer'
import { type Envelope, parseEnvelope } from '../format/envelope.js'
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

/** The envelope of `buf[s..e)`, or undefined for anything a replay would quarantine. */
export function parseLine(buf: Buffer, s: number, e: number): Envelope | undefined {
  if (e > s && buf[e - 1] === 0x0d) e--
  const text = buf.subarray(s, e)
  if (!isUtf8(text)) return undefined
  try {
    return parseEnvelope(text.toString('utf8'))
  } catch {
    return undefined
  }
}

export function lineText(buf: Buffer, s: number, e: number): string {
  if (e > s && buf[e - 1] === 0x0d) e--
  return buf.toString('utf8', s, e)
}

export function copyLine(sink: ByteSink, bytes: Buffer): void {
  sink.ensure(bytes.length + 1)
  sink.len += bytes.copy(sink.buf, sink.len)
  sink.byte(0x0a)
}
