import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach } from 'vitest'

const dirs: string[] = []

/** A fresh temp directory, removed after the current test whatever its outcome. */
export function tmpDir(prefix = 'dlq-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

/** All non-empty lines of every file in `dir` whose name matches. */
export function readLinesOf(dir: string, match: (name: string) => boolean): string[] {
  const out: string[] = []
  for (const f of fs.readdirSync(dir).sort()) {
    if (!match(f)) continue
    const text = fs.readFileSync(path.join(dir, f), 'utf8')
    for (const l of text.split('\n')) if (l.length > 0) out.push(l)
  }
  return out
}
