/**
 * From a strace record to what happened to the files under one directory, in order: the
 * data written to each file (by inode, so a rename never loses track of it), every entry
 * operation (create, rename, link, unlink, mkdir, rmdir), every fsync, and the marks the
 * workload printed (`ack <id>` once `log()` resolved, `dlv <id>` once a handler returned).
 *
 * Descriptors are followed per process (threads share them): positions for plain writes,
 * O_APPEND, dup. Anything under the directory the model cannot represent (a symlink,
 * fallocate, copy_file_range) fails loudly instead of being skipped.
 */
import fs from 'node:fs'
import path from 'node:path'
import { type Call, fdArg, hexString, processOf } from './trace.js'
import { PgWatcher } from './pg-wire.js'

export type Ino = number

export interface InodeInfo {
  kind: 'file' | 'dir'
  /** Content in the initial snapshot (empty for a file created during the run). */
  initial: Buffer
  /** Indices (into `events`) of the data operations on it, in order. */
  history: number[]
}

interface Base {
  /** Position in completion order. */
  i: number
  /** Record line on which the call returned. */
  exit: number
  /** Record line on which it was entered. */
  entry: number
  pid: number
}

export type DataEvent = Base & ({ kind: 'write'; ino: Ino; off: number; data: Buffer } | { kind: 'trunc'; ino: Ino; size: number })
export type EntryKind = 'create' | 'mkdir' | 'link' | 'unlink' | 'rename' | 'rmdir'
export type EntryEvent = Base & {
  kind: EntryKind
  ino: Ino
  /** create/mkdir/unlink/rmdir: the path; link/rename: the source. */
  path: string
  /** link/rename: the target. */
  to?: string
  /** Every path it touches, and their directories. */
  names: string[]
  dirs: string[]
}
export type SyncEvent = Base & ({ kind: 'fsync'; ino: Ino; dir: string | undefined } | { kind: 'syncall' })
export type MarkEvent = Base & { kind: 'mark'; tag: string; id: string }
export type CommitEvent = Base & { kind: 'commit'; ids: string[] }
export type Event = DataEvent | EntryEvent | SyncEvent | MarkEvent | CommitEvent
type Fields<E> = E extends unknown ? Omit<E, keyof Base> : never

export interface Recording {
  root: string
  inodes: Map<Ino, InodeInfo>
  /** Names in the initial snapshot (the root itself included). */
  initialNames: Map<string, Ino>
  events: Event[]
}

const O = fs.constants

function flagsOf(token: string): Set<string> {
  return new Set(token.split('|').map((s) => s.trim()))
}

interface OpenFile {
  ino: Ino
  pos: { v: number }
  append: boolean
}

/** The directory as it is now, before the workload runs: every byte counts as durable. */
export function snapshot(root: string): { inodes: Map<Ino, InodeInfo>; names: Map<string, Ino> } {
  const inodes = new Map<Ino, InodeInfo>()
  const names = new Map<string, Ino>()
  const byDevIno = new Map<string, Ino>()
  const walk = (p: string) => {
    const st = fs.lstatSync(p)
    const k = `${st.dev}:${st.ino}`
    let ino = byDevIno.get(k)
    if (ino === undefined) {
      ino = byDevIno.size + 1
      byDevIno.set(k, ino)
      if (st.isDirectory()) inodes.set(ino, { kind: 'dir', initial: Buffer.alloc(0), history: [] })
      else if (st.isFile()) inodes.set(ino, { kind: 'file', initial: fs.readFileSync(p), history: [] })
      else throw new Error(`crash explorer: ${p} is neither a file nor a directory`)
    }
    names.set(p, ino)
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n))
  }
  walk(root)
  return { inodes, names }
}

export interface RecordOptions {
  root: string
  /** The file the workload's stdout went to: writes to it are marks. */
  stdoutFile: string
  cwd: string
  /** Ids a database COMMIT covered are read from the PostgreSQL wire traffic. */
  idPattern?: RegExp
}

export function buildRecording(calls: Call[], snap: ReturnType<typeof snapshot>, o: RecordOptions): Recording {
  const root = o.root
  const inodes = snap.inodes
  const live = new Map(snap.names)
  const size = new Map<Ino, number>()
  for (const [ino, info] of inodes) size.set(ino, info.initial.length)
  let nextIno = Math.max(0, ...inodes.keys()) + 1
  const fds = new Map<string, OpenFile>()
  const events: Event[] = []
  const pidOf = processOf(calls)
  const pg = o.idPattern ? new PgWatcher(o.idPattern) : undefined
  let stdoutRest = ''

  const under = (p: string) => p === root || p.startsWith(root + '/')
  const key = (pid: number, fd: number) => `${pid}:${fd}`
  // Each call acts at the line where it was entered (the kernel did its work after that,
  // and before anything entered after it returned), except what only exists once it has
  // returned: a new descriptor, an fsync's durability, bytes received.
  const steps: Array<{ c: Call; exit: boolean }> = []
  for (const c of calls) if (c.ret >= 0) steps.push({ c, exit: false }, { c, exit: true })
  steps.sort((x, y) => (x.exit ? x.c.exit : x.c.entry) - (y.exit ? y.c.exit : y.c.entry) || Number(x.exit) - Number(y.exit))
  const opened = new Map<Call, Ino>()
  const AT_EXIT = new Set(['dup', 'dup2', 'dup3', 'fcntl', 'fsync', 'fdatasync', 'sync', 'syncfs', 'read', 'readv', 'recvfrom', 'recvmsg'])
  for (const { c, exit } of steps) {
    const opens = c.name === 'open' || c.name === 'openat' || c.name === 'openat2' || c.name === 'creat'
    if (!opens && exit !== AT_EXIT.has(c.name)) continue
    const pid = pidOf(c.tid)
    const base = { exit: c.exit, entry: c.entry, pid }
    const push = (e: Fields<Event>): Event => {
      const ev = { ...base, ...e, i: events.length } as Event
      events.push(ev)
      return ev
    }
    const resolve = (dirTok: string | undefined, pathTok: string): string => {
      const p = hexString(pathTok).toString('utf8')
      if (path.isAbsolute(p)) return path.normalize(p)
      const dir = dirTok === undefined ? undefined : fdArg(dirTok).path
      return path.resolve(dir ?? o.cwd, p)
    }
    const fileOf = (tok: string) => fds.get(key(pid, fdArg(tok).fd))
    const dataOp = (ino: Ino, e: { kind: 'write'; off: number; data: Buffer } | { kind: 'trunc'; size: number }) => {
      const ev = push({ ...e, ino })
      inodes.get(ino)!.history.push(ev.i)
      const before = size.get(ino) ?? 0
      size.set(ino, e.kind === 'write' ? Math.max(before, e.off + e.data.length) : e.size)
    }
    const entryOp = (kind: EntryKind, ino: Ino, p: string, to?: string) => {
      const names = to === undefined ? [p] : [p, to]
      push({ kind, ino, path: p, ...(to !== undefined ? { to } : {}), names, dirs: [...new Set(names.map((n) => path.dirname(n)))] })
    }
    const write = (tok: string, data: Buffer, at: number | undefined) => {
      const { path: fdPath } = fdArg(tok)
      if (fdPath === o.stdoutFile) {
        stdoutRest += data.toString('utf8')
        for (let nl = stdoutRest.indexOf('\n'); nl !== -1; nl = stdoutRest.indexOf('\n')) {
          const line = stdoutRest.slice(0, nl).trim()
          stdoutRest = stdoutRest.slice(nl + 1)
          const m = /^([a-z]+) (\S+)$/.exec(line)
          if (m) push({ kind: 'mark', tag: m[1]!, id: m[2]! })
        }
        return
      }
      if (pg && fdPath?.startsWith('socket:')) {
        pg.fromClient(fdPath, data)
        return
      }
      const f = fileOf(tok)
      if (!f) return
      const off = at ?? (f.append ? size.get(f.ino)! : f.pos.v)
      if (data.length > 0) dataOp(f.ino, { kind: 'write', off, data })
      if (at === undefined) f.pos.v = off + data.length
    }
    const iovData = (tok: string, n: number) => {
      const parts: Buffer[] = []
      for (const m of tok.matchAll(/iov_base=("(?:\\x[0-9a-f]{2})*"(?:\.\.\.)?)/g)) parts.push(hexString(m[1]!))
      return Buffer.concat(parts).subarray(0, n)
    }

    const a = c.args
    switch (c.name) {
      case 'open':
      case 'openat':
      case 'openat2':
      case 'creat': {
        const [dirTok, pathTok, flagTok] =
          c.name === 'openat' || c.name === 'openat2' ? [a[0], a[1]!, a[2]!] : c.name === 'open' ? [undefined, a[0]!, a[1]!] : [undefined, a[0]!, 'O_CREAT|O_WRONLY|O_TRUNC']
        const abs = c.retPath !== undefined && path.isAbsolute(c.retPath) ? c.retPath : resolve(dirTok, pathTok)
        const flags = flagsOf(c.name === 'openat2' ? (/flags=([A-Z_|0-9]+)/.exec(flagTok)?.[1] ?? '') : flagTok)
        if (exit) {
          const fk = key(pid, c.ret)
          const ino = opened.get(c)
          if (ino === undefined) fds.delete(fk)
          else fds.set(fk, { ino, pos: { v: 0 }, append: flags.has('O_APPEND') })
          break
        }
        if (!under(abs)) break
        let ino = live.get(abs)
        if (ino === undefined) {
          if (!flags.has('O_CREAT')) throw new Error(`crash explorer: ${abs} opened but not known to exist (trace out of step, record line ${c.exit + 1})`)
          ino = nextIno++
          inodes.set(ino, { kind: 'file', initial: Buffer.alloc(0), history: [] })
          size.set(ino, 0)
          live.set(abs, ino)
          entryOp('create', ino, abs)
        } else if (flags.has('O_TRUNC') && (flags.has('O_WRONLY') || flags.has('O_RDWR')) && size.get(ino)! > 0) {
          dataOp(ino, { kind: 'trunc', size: 0 })
        }
        opened.set(c, ino)
        break
      }
      case 'close':
        fds.delete(key(pid, fdArg(a[0]!).fd))
        break
      case 'close_range': {
        const lo = Number(a[0])
        const hi = Math.min(Number(a[1]), lo + 65536)
        for (let fd = lo; fd <= hi; fd++) fds.delete(key(pid, fd))
        break
      }
      case 'dup':
      case 'dup2':
      case 'dup3':
      case 'fcntl': {
        if (c.name === 'fcntl' && !/^F_DUPFD/.test(a[1] ?? '')) break
        const src = fileOf(a[0]!)
        const dst = key(pid, c.ret)
        if (src) fds.set(dst, src)
        else fds.delete(dst)
        break
      }
      case 'write':
        write(a[0]!, hexString(a[1]!).subarray(0, c.ret), undefined)
        break
      case 'pwrite64':
        write(a[0]!, hexString(a[1]!).subarray(0, c.ret), Number(a[3]))
        break
      case 'writev':
        write(a[0]!, iovData(a[1]!, c.ret), undefined)
        break
      case 'pwritev':
      case 'pwritev2':
        write(a[0]!, iovData(a[1]!, c.ret), Number(a[3]))
        break
      case 'sendto':
      case 'sendmsg': {
        const fdPath = fdArg(a[0]!).path
        if (pg && fdPath?.startsWith('socket:')) pg.fromClient(fdPath, c.name === 'sendto' ? hexString(a[1]!).subarray(0, c.ret) : iovData(a[1]!, c.ret))
        break
      }
      case 'read':
      case 'readv':
      case 'recvfrom':
      case 'recvmsg': {
        const fdPath = fdArg(a[0]!).path
        if (!pg || !fdPath?.startsWith('socket:') || c.ret === 0) break
        const data = c.name === 'read' || c.name === 'recvfrom' ? hexString(a[1]!).subarray(0, c.ret) : iovData(a[1]!, c.ret)
        const ids = pg.fromServer(fdPath, data)
        if (ids.length > 0) push({ kind: 'commit', ids })
        break
      }
      case 'lseek': {
        const f = fileOf(a[0]!)
        if (f) f.pos.v = c.ret
        break
      }
      case 'ftruncate': {
        const f = fileOf(a[0]!)
        if (f) dataOp(f.ino, { kind: 'trunc', size: Number(a[1]) })
        break
      }
      case 'truncate': {
        const abs = resolve(undefined, a[0]!)
        const ino = live.get(abs)
        if (ino !== undefined) dataOp(ino, { kind: 'trunc', size: Number(a[1]) })
        break
      }
      case 'fsync':
      case 'fdatasync': {
        const { fd, path: fdPath } = fdArg(a[0]!)
        const f = fds.get(key(pid, fd))
        if (!f) break
        push({ kind: 'fsync', ino: f.ino, dir: inodes.get(f.ino)!.kind === 'dir' ? fdPath : undefined })
        break
      }
      case 'sync':
      case 'syncfs':
        push({ kind: 'syncall' })
        break
      case 'rename':
      case 'renameat':
      case 'renameat2': {
        const [src, dst] = c.name === 'rename' ? [resolve(undefined, a[0]!), resolve(undefined, a[1]!)] : [resolve(a[0], a[1]!), resolve(a[2], a[3]!)]
        if (c.name === 'renameat2' && (a[4] ?? '').includes('RENAME_EXCHANGE')) throw new Error('crash explorer: RENAME_EXCHANGE is not modelled')
        if (!under(src) && !under(dst)) break
        if (!under(src) || !under(dst)) throw new Error(`crash explorer: rename across the explored directory (${src} → ${dst}) is not modelled`)
        const ino = live.get(src)
        if (ino === undefined) throw new Error(`crash explorer: rename of unknown ${src}`)
        if (inodes.get(ino)!.kind === 'dir') throw new Error('crash explorer: renaming a directory is not modelled')
        live.delete(src)
        live.set(dst, ino)
        entryOp('rename', ino, src, dst)
        break
      }
      case 'link':
      case 'linkat': {
        const [src, dst] = c.name === 'link' ? [resolve(undefined, a[0]!), resolve(undefined, a[1]!)] : [resolve(a[0], a[1]!), resolve(a[2], a[3]!)]
        if (!under(src) && !under(dst)) break
        const ino = live.get(src)
        if (ino === undefined || !under(dst)) throw new Error(`crash explorer: link ${src} → ${dst} is not modelled`)
        live.set(dst, ino)
        entryOp('link', ino, src, dst)
        break
      }
      case 'unlink':
      case 'unlinkat':
      case 'rmdir': {
        const p = c.name === 'unlinkat' ? resolve(a[0], a[1]!) : resolve(undefined, a[0]!)
        if (!under(p)) break
        const ino = live.get(p)
        if (ino === undefined) throw new Error(`crash explorer: unlink of unknown ${p}`)
        live.delete(p)
        entryOp(c.name === 'rmdir' || (a[2] ?? '').includes('AT_REMOVEDIR') ? 'rmdir' : 'unlink', ino, p)
        break
      }
      case 'mkdir':
      case 'mkdirat': {
        const p = c.name === 'mkdirat' ? resolve(a[0], a[1]!) : resolve(undefined, a[0]!)
        if (!under(p)) break
        const ino = nextIno++
        inodes.set(ino, { kind: 'dir', initial: Buffer.alloc(0), history: [] })
        live.set(p, ino)
        entryOp('mkdir', ino, p)
        break
      }
      case 'symlink':
      case 'symlinkat':
      case 'fallocate':
      case 'copy_file_range':
      case 'sendfile':
      case 'splice': {
        const touched = a.some((t) => {
          try {
            const p = /^(-?\d+|AT_FDCWD)</.test(t) ? fdArg(t).path : t.startsWith('"') ? hexString(t).toString('utf8') : undefined
            return p !== undefined && under(path.resolve(o.cwd, p))
          } catch {
            return false
          }
        })
        if (touched) throw new Error(`crash explorer: ${c.name} under ${root} is not modelled`)
        break
      }
    }
  }
  return { root, inodes, initialNames: snap.names, events }
}
