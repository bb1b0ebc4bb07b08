import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { parseEnvelope, type Envelope } from '../../../src/format/envelope.js'
import { listSegments, type SegmentFamily } from '../../../src/store/segments.js'

export interface Line {
  file: string
  text: string
  env?: Envelope
}

/** Every non-empty line of a family's sealed segments (plain or gz) and, optionally, its active file. */
export async function familyLines(fam: SegmentFamily, opts: { active?: boolean } = {}): Promise<Line[]> {
  const files = (await listSegments(fam)).map((s) => s.path)
  if (opts.active !== false && fs.existsSync(fam.active)) files.push(fam.active)
  const out: Line[] = []
  for (const f of files) for (const l of linesOfFile(f)) out.push(l)
  return out
}

export function linesOfFile(f: string): Line[] {
  let buf = fs.readFileSync(f)
  if (f.endsWith('.gz')) buf = zlib.gunzipSync(buf)
  const out: Line[] = []
  for (const text of buf.toString('utf8').split('\n')) {
    if (text.length === 0) continue
    let env: Envelope | undefined
    try {
      env = parseEnvelope(text)
    } catch {
      env = undefined
    }
    out.push({ file: path.basename(f), text, env })
  }
  return out
}

/** Lines of one file that do not parse as JSON at all (glued or torn records). */
export function unparsable(lines: Line[]): Line[] {
  return lines.filter((l) => {
    try {
      JSON.parse(l.text)
      return false
    } catch {
      return true
    }
  })
}
