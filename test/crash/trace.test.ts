/**
 * Reading strace's output (trace.ts) and turning it into file operations (record.ts): calls
 * split across lines by other threads, hex strings and paths, descriptors per process.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { buildRecording, snapshot } from './record.js'
import { parseTrace } from './trace.js'

const hex = (s: string) => [...Buffer.from(s)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')
const fd = (n: number, p: string) => `${n}<${hex(p)}>`

describe('strace record', () => {
  it('joins calls other threads interrupted and keeps where each entered and returned', () => {
    const text = [
      `10 openat(AT_FDCWD<${hex('/w')}>, "${hex('/w/r/a')}", O_RDWR|O_CREAT|O_APPEND|O_CLOEXEC, 0600) = 17<${hex('/w/r/a')}>`,
      `11 write(${fd(17, '/w/r/a')}, "${hex('{"x":1}\n')}", 8 <unfinished ...>`,
      `12 fsync(${fd(17, '/w/r/a')}) = 0`,
      `11 <... write resumed>)             = 8`,
      `10 +++ exited with 0 +++`,
    ].join('\n')
    const calls = parseTrace(text)
    expect(calls.map((c) => [c.name, c.entry, c.exit, c.ret])).toEqual([
      ['openat', 0, 0, 17],
      ['fsync', 2, 2, 0],
      ['write', 1, 3, 8],
    ])
    expect(calls[0]!.retPath).toBe('/w/r/a')
  })

  it('records data by inode across a rename, descriptors per process (threads share them), marks from stdout', () => {
    const root = fs.realpathSync(tmpDir())
    const a = path.join(root, 'a')
    const b = path.join(root, 'b')
    const out = path.join(root, '..', 'stdout')
    const text = [
      `5 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0}, 88) = 6`,
      `5 openat(AT_FDCWD<${hex(root)}>, "${hex(a)}", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0600) = 3<${hex(a)}>`,
      `5 write(${fd(3, a)}, "${hex('one\n')}", 4) = 4`,
      `5 rename("${hex(a)}", "${hex(b)}") = 0`,
      `6 write(${fd(3, b)}, "${hex('two\n')}", 4) = 4`,
      `6 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0}, 88) = 7`,
      `7 fsync(${fd(3, b)}) = 0`,
      // Another process's descriptor 3 is another file.
      `8 write(${fd(3, b)}, "${hex('not ours\n')}", 9) = 9`,
      `5 write(${fd(1, out)}, "${hex('ack id1\n')}", 8) = 8`,
    ].join('\n')
    const rec = buildRecording(parseTrace(text), snapshot(root), { root, stdoutFile: out, cwd: root })
    const kinds = rec.events.map((e) => e.kind)
    expect(kinds).toEqual(['create', 'write', 'rename', 'write', 'fsync', 'mark'])
    const writes = rec.events.filter((e) => e.kind === 'write')
    expect(writes.map((w) => [w.ino, w.off])).toEqual([
      [writes[0]!.ino, 0],
      [writes[0]!.ino, 4],
    ])
    expect(rec.events.at(-1)).toMatchObject({ kind: 'mark', tag: 'ack', id: 'id1' })
  })
})
