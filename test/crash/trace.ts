/**
 * Recording the system calls a program makes, with strace, and reading the record back.
 *
 * `strace -f -y -xx`: every thread and child process, every file descriptor annotated with
 * the path it refers to, every string (data written, paths) in hex — so nothing in a record
 * can be mistaken for syntax. Calls interrupted by another thread's line ("<unfinished …>",
 * "<… resumed>") are joined; each call keeps the line where it was entered and the line where
 * it returned, and calls are listed in the order they returned.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'

/** The calls recorded: everything that can change a file, make it durable, or print a mark. */
const FILE_CALLS = [
  'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'dup', 'dup2', 'dup3', 'fcntl',
  'write', 'pwrite64', 'writev', 'pwritev', 'pwritev2', 'lseek', 'ftruncate', 'truncate',
  'fallocate', 'copy_file_range', 'sendfile', 'splice',
  'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range',
  'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat',
  'unlink', 'unlinkat', 'mkdir', 'mkdirat', 'rmdir',
  'clone', 'clone3', 'fork', 'vfork',
]
/** Added when the database traffic matters (what a COMMIT covered): what a socket receives. */
const SOCKET_READS = ['read', 'readv', 'recvfrom', 'recvmsg', 'sendto', 'sendmsg']

/** Longest string strace prints whole; a longer one fails the parse (never silently cut). */
const STRING_LIMIT = 8 * 1024 * 1024

export interface TraceRun {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/** Run `argv` under strace, writing the record to `traceFile` and the program's stdout to `stdoutFile`. */
export function runTraced(
  argv: string[],
  o: { traceFile: string; stdoutFile: string; cwd: string; env: NodeJS.ProcessEnv; sockets?: boolean; timeoutMs: number },
): Promise<TraceRun> {
  const calls = [...FILE_CALLS, ...(o.sockets ? SOCKET_READS : [])]
  const args = ['-f', '-qq', '--seccomp-bpf', '-y', '-xx', '-s', String(STRING_LIMIT), '-e', `trace=${calls.join(',')}`, '-e', 'signal=none', '-o', o.traceFile, '--', ...argv]
  const out = fs.openSync(o.stdoutFile, 'w')
  return new Promise((resolve, reject) => {
    const child = spawn('strace', args, { cwd: o.cwd, env: o.env, stdio: ['ignore', out, 'pipe'] })
    fs.closeSync(out)
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error('strace not found: install the Debian package `strace` (.ci/run does this)')
          : err,
      )
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stderr })
    })
  })
}

// ------------------------------------------------------------------ parsing

export interface Call {
  /** Line (0-based) of the record on which the call returned: its place in completion order. */
  exit: number
  /** Line on which it was entered (the same line when strace printed it in one piece). */
  entry: number
  tid: number
  name: string
  /** Top-level arguments as printed. */
  args: string[]
  /** Return value; negative for an error. */
  ret: number
  /** Decoded `-y` path of a returned descriptor. */
  retPath: string | undefined
}

const HEX_RUN = /\\x([0-9a-f]{2})/g

/** `"\x41\x42"` → bytes; throws on a string strace cut short (`"…"...`). */
export function hexString(token: string): Buffer {
  const t = token.trim()
  if (!t.startsWith('"')) throw new Error(`not a string: ${t.slice(0, 40)}`)
  const end = t.lastIndexOf('"')
  if (t.slice(end + 1).startsWith('...')) throw new Error('strace cut a string short: raise STRING_LIMIT')
  return hexBytes(t.slice(1, end))
}

function hexBytes(s: string): Buffer {
  if (s.length === 0) return Buffer.alloc(0)
  const out = Buffer.alloc(s.length / 4)
  let n = 0
  HEX_RUN.lastIndex = 0
  for (let m = HEX_RUN.exec(s); m; m = HEX_RUN.exec(s)) out[n++] = parseInt(m[1]!, 16)
  if (n * 4 !== s.length) throw new Error(`unexpected characters in a hex string: ${s.slice(0, 40)}`)
  return out
}

/** `21<\x2f\x74…>` → fd 21 and its path; `AT_FDCWD<…>` → fd -100. */
export function fdArg(token: string): { fd: number; path: string | undefined } {
  // A file unlinked while open prints as `<path>(deleted)`.
  const m = /^(-?\d+|AT_FDCWD)(?:<(.*)>)?(?:\(deleted\))?$/.exec(token.trim())
  if (!m) throw new Error(`not a descriptor: ${token.slice(0, 60)}…${token.slice(-60)}`)
  const fd = m[1] === 'AT_FDCWD' ? -100 : Number(m[1])
  return { fd, path: m[2] === undefined ? undefined : hexBytes(m[2]).toString('utf8') }
}

/** Split `a, {b, c}, [d]` at top-level commas (strings are all hex, so only brackets nest). */
export function splitArgs(s: string): string[] {
  const out: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') depth--
    else if (c === '<' && /[\dD]/.test(s[i - 1] ?? '')) {
      // A `-y` annotation: hex inside, ends at the next '>'.
      i = s.indexOf('>', i)
    } else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i).trim())
      start = i + 1
    }
  }
  const last = s.slice(start).trim()
  if (last.length > 0) out.push(last)
  return out
}

/** Index of the `)` closing the argument list: the one followed by ` = ` (padded on resumed lines) at depth 0. */
function closeOfArgs(s: string): number {
  let depth = 0
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ']' || c === '}') depth--
    else if (c === '<' && /[\dD]/.test(s[i - 1] ?? '')) i = s.indexOf('>', i)
    else if (c === ')') {
      if (depth === 0 && /^ +=/.test(s.slice(i + 1, i + 40))) return i
      depth--
    }
  }
  return -1
}

const COMPLETE = /^(\d+) +(\w+)\((.*)$/
const UNFINISHED = /^(\d+) +(\w+)\((.*) <unfinished \.\.\.>$/
const RESUMED = /^(\d+) +<\.\.\. (\w+) resumed>(.*)$/

/** Parse a strace record (as written by runTraced) into calls, in the order they returned. */
export function parseTrace(text: string): Call[] {
  const lines = text.split('\n')
  const pending = new Map<number, { name: string; head: string; entry: number }>()
  const calls: Call[] = []
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    if (line.length === 0) continue
    let tid: number
    let name: string
    let body: string
    let entry = n
    let m = UNFINISHED.exec(line)
    if (m) {
      pending.set(Number(m[1]), { name: m[2]!, head: m[3]!, entry: n })
      continue
    }
    m = RESUMED.exec(line)
    if (m) {
      tid = Number(m[1])
      const p = pending.get(tid)
      if (!p || p.name !== m[2]) continue // started before the record began
      pending.delete(tid)
      name = p.name
      entry = p.entry
      body = p.head + m[3]
    } else {
      m = COMPLETE.exec(line)
      if (!m) continue // "+++ exited", "--- SIG…", …
      tid = Number(m[1])
      name = m[2]!
      body = m[3]!
    }
    const close = closeOfArgs(body)
    if (close < 0) continue // killed mid-call ("= ?")
    const retText = body.slice(close + 1).replace(/^ +=\s*/, '')
    const r = /^(-?\d+|0x[0-9a-f]+)(?:<(.*?)>)?/.exec(retText)
    if (!r) continue
    calls.push({
      exit: n,
      entry,
      tid,
      name,
      args: splitArgs(body.slice(0, close)),
      ret: r[1]!.startsWith('0x') ? 0 : Number(r[1]),
      retPath: r[2] === undefined ? undefined : hexBytes(r[2]).toString('utf8'),
    })
  }
  return calls
}

/** Thread id → process id, from the clone calls (a thread shares its creator's descriptors). */
export function processOf(calls: Call[]): (tid: number) => number {
  const parent = new Map<number, number>()
  for (const c of calls) {
    if (c.ret <= 0) continue
    if (c.name === 'clone' || c.name === 'clone3') {
      if (c.args.join(',').includes('CLONE_THREAD')) parent.set(c.ret, c.tid)
    }
  }
  const root = (tid: number): number => {
    let t = tid
    for (let p = parent.get(t); p !== undefined; p = parent.get(t)) t = p
    return t
  }
  return root
}
