/**
 * The disk states a power cut could leave, at each point of a recording, under a stated
 * model of what a file system keeps.
 *
 * Both models:
 * - data written to a file since the last fsync/fdatasync of that file that started after
 *   the write returned may be lost: all of it, a prefix of the writes, or a prefix whose last
 *   write is torn inside a 4 KiB block;
 * - what an fsync made durable stays.
 *
 * `strict` (POSIX as fsync(2) words it): a create, rename, link, unlink, mkdir or rmdir is
 * durable once an fsync of its directory (each of its directories) started after it
 * returned. Until then each may be undone on its own — together with every later entry
 * operation on the same name (or below it), which depended on it.
 *
 * `ext4` (a journalling file system that commits metadata in order): any fsync also makes
 * every earlier entry operation durable (the journal commit carries them), and entry
 * operations not yet durable are lost as a suffix, never out of order.
 */
import type { EntryEvent, Event, Ino, Recording } from './record.js'
import type { Rng } from '../helpers/rng.js'

export type Model = 'strict' | 'ext4'

export interface FileRef {
  ino: Ino
  /** How many of the inode's data operations it holds… */
  n: number
  /** …and how many bytes of the next one (a torn write). */
  cut?: number
}

export interface CrashState {
  key: string
  files: Map<string, FileRef>
  dirs: string[]
}

export interface Choice {
  label: string
  /** Entry operations (event indices) undone; later operations depending on them go too. */
  undo: number[]
  /** Data not yet durable: kept or lost, unless `per` says otherwise for an inode. */
  data: 'keep' | 'lose'
  per?: Map<Ino, { n: number; cut?: number }>
}

const BLOCK = 4096

function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(b + '/') || b.startsWith(a + '/')
}

/** Walks a recording crash point by crash point, knowing what is durable at each. */
export class Frontier {
  /** Events [0, k) have returned. */
  k = 0
  private readonly live = new Map<Ino, number>()
  private readonly durable = new Map<Ino, number>()
  /** Entry operations so far, with whether they are durable. */
  readonly entries: Array<{ ev: EntryEvent; durable: boolean; synced: Set<string> }> = []
  private readonly contents = new Map<Ino, Buffer[]>()

  constructor(
    readonly rec: Recording,
    readonly model: Model,
  ) {}

  get done(): boolean {
    return this.k >= this.rec.events.length
  }

  /** Let the next event return. */
  advance(): Event {
    const ev = this.rec.events[this.k++]!
    switch (ev.kind) {
      case 'write':
      case 'trunc':
        this.live.set(ev.ino, (this.live.get(ev.ino) ?? 0) + 1)
        break
      case 'create':
      case 'mkdir':
      case 'link':
      case 'unlink':
      case 'rename':
      case 'rmdir':
        this.entries.push({ ev, durable: false, synced: new Set() })
        break
      case 'fsync':
      case 'syncall': {
        const before = (e: { exit: number }) => e.exit < ev.entry
        const inos = ev.kind === 'fsync' ? [ev.ino] : [...this.live.keys()]
        for (const ino of inos) {
          const h = this.rec.inodes.get(ino)!.history
          let d = this.durable.get(ino) ?? 0
          while (d < (this.live.get(ino) ?? 0) && before(this.rec.events[h[d]!]!)) d++
          this.durable.set(ino, d)
        }
        for (const e of this.entries) {
          if (e.durable || !before(e.ev)) continue
          if (ev.kind === 'syncall' || this.model === 'ext4') e.durable = true
          else if (ev.dir !== undefined && e.ev.dirs.includes(ev.dir)) {
            e.synced.add(ev.dir)
            if (e.ev.dirs.every((d) => e.synced.has(d))) e.durable = true
          }
        }
        break
      }
    }
    return ev
  }

  liveOf(ino: Ino): number {
    return this.live.get(ino) ?? 0
  }

  durableOf(ino: Ino): number {
    return this.durable.get(ino) ?? 0
  }

  pendingEntries(): number[] {
    return this.entries.filter((e) => !e.durable).map((e) => e.ev.i)
  }

  /** Files with data that is not durable yet. */
  pendingData(): Ino[] {
    const out: Ino[] = []
    for (const [ino, n] of this.live) if (n > this.durableOf(ino)) out.push(ino)
    return out
  }

  /** The state a choice leaves. */
  build(choice: Choice): CrashState {
    const undone = new Set<number>()
    const seeds = new Set(choice.undo)
    const undoneNames: string[] = []
    for (const { ev } of this.entries) {
      if (seeds.has(ev.i) || ev.names.some((n) => undoneNames.some((u) => overlaps(n, u)))) {
        undone.add(ev.i)
        undoneNames.push(...ev.names)
      }
    }
    const ns = new Map(this.rec.initialNames)
    for (const { ev } of this.entries) {
      if (undone.has(ev.i)) continue
      switch (ev.kind) {
        case 'create':
        case 'mkdir':
          ns.set(ev.path, ev.ino)
          break
        case 'unlink':
        case 'rmdir':
          ns.delete(ev.path)
          break
        case 'link':
          ns.set(ev.to!, ns.get(ev.path) ?? ev.ino)
          break
        case 'rename': {
          const ino = ns.get(ev.path) ?? ev.ino
          ns.delete(ev.path)
          ns.set(ev.to!, ino)
          break
        }
      }
    }
    const files = new Map<string, FileRef>()
    const dirs: string[] = []
    const parts: string[] = []
    for (const [p, ino] of [...ns].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (this.rec.inodes.get(ino)!.kind === 'dir') {
        dirs.push(p)
        parts.push(`${p}/`)
        continue
      }
      const o = choice.per?.get(ino)
      const ref: FileRef = { ino, n: o?.n ?? (choice.data === 'keep' ? this.liveOf(ino) : this.durableOf(ino)) }
      if (o?.cut !== undefined) ref.cut = o.cut
      files.set(p, ref)
      parts.push(`${p}=${ino}:${ref.n}:${ref.cut ?? ''}`)
    }
    return { key: parts.join('\n'), files, dirs }
  }

  /** Bytes of an inode holding its first `n` data operations (and `cut` bytes of the next). */
  content(ref: FileRef): Buffer {
    const info = this.rec.inodes.get(ref.ino)!
    let cache = this.contents.get(ref.ino)
    if (!cache) this.contents.set(ref.ino, (cache = [info.initial]))
    while (cache.length <= ref.n) cache.push(apply(cache[cache.length - 1]!, this.rec.events[info.history[cache.length - 1]!]!, undefined))
    if (ref.cut === undefined) return cache[ref.n]!
    return apply(cache[ref.n]!, this.rec.events[info.history[ref.n]!]!, ref.cut)
  }

  /** A seeded set of the ways this crash point can end, extremes first (see docs/reliability.md). */
  choices(rng: Rng, random: number): Choice[] {
    const P = this.pendingEntries()
    const D = this.pendingData()
    const out: Choice[] = [
      { label: 'keep', undo: [], data: 'keep' },
      { label: 'lose-data', undo: [], data: 'lose' },
    ]
    if (P.length > 0) {
      out.push({ label: 'undo-entries', undo: P, data: 'keep' }, { label: 'undo-all', undo: P, data: 'lose' })
      if (this.model === 'strict') {
        if (P.length <= 5) {
          for (let mask = 1; mask < (1 << P.length) - 1; mask++) {
            const undo = P.filter((_, j) => (mask >> j) & 1)
            out.push({ label: 'undo-subset', undo, data: 'keep' }, { label: 'undo-subset', undo, data: 'lose' })
          }
        } else {
          for (const p of P.slice(-12)) {
            out.push({ label: 'undo-one', undo: [p], data: 'keep' }, { label: 'keep-one', undo: P.filter((q) => q !== p), data: 'keep' })
          }
        }
      } else {
        for (let j = Math.max(1, P.length - 12); j < P.length; j++) {
          out.push({ label: 'undo-suffix', undo: P.slice(j), data: 'keep' }, { label: 'undo-suffix', undo: P.slice(j), data: 'lose' })
        }
      }
    }
    for (const ino of D.slice(-12)) {
      const d = this.durableOf(ino)
      const l = this.liveOf(ino)
      out.push({ label: 'lose-file', undo: [], data: 'keep', per: new Map([[ino, { n: d }]]) })
      const torn = this.tear(ino, d, rng)
      if (torn) out.push({ label: 'torn', undo: [], data: 'keep', per: new Map([[ino, torn]]) })
      if (torn && P.length > 0) out.push({ label: 'torn+undo', undo: P, data: 'keep', per: new Map([[ino, torn]]) })
      if (l - d >= 2) {
        const n = rng.int(d + 1, l - 1)
        out.push({ label: 'prefix', undo: [], data: 'keep', per: new Map([[ino, this.tear(ino, n, rng) ?? { n }]]) })
      }
    }
    for (let r = 0; r < random; r++) {
      const undo = this.model === 'strict' ? P.filter(() => rng.chance(0.5)) : P.slice(rng.int(0, P.length))
      const per = new Map<Ino, { n: number; cut?: number }>()
      for (const ino of D) {
        const n = rng.int(this.durableOf(ino), this.liveOf(ino))
        per.set(ino, (n < this.liveOf(ino) && rng.chance(0.3) ? this.tear(ino, n, rng) : undefined) ?? { n })
      }
      out.push({ label: 'random', undo, data: 'keep', per })
    }
    return out
  }

  /** Op `n` of the inode torn at a random byte inside a 4 KiB block, or undefined when it cannot tear. */
  private tear(ino: Ino, n: number, rng: Rng): { n: number; cut: number } | undefined {
    if (n >= this.liveOf(ino)) return undefined
    const ev = this.rec.events[this.rec.inodes.get(ino)!.history[n]!]!
    if (ev.kind !== 'write' || ev.data.length < 2) return undefined
    // A cut at a block boundary inside the write when it spans one (the disk wrote whole
    // blocks), otherwise anywhere (a block written in part).
    const firstBoundary = Math.ceil((ev.off + 1) / BLOCK) * BLOCK - ev.off
    if (firstBoundary < ev.data.length && rng.chance(0.5)) return { n, cut: firstBoundary }
    return { n, cut: rng.int(1, ev.data.length - 1) }
  }
}

function apply(base: Buffer, ev: Event, cut: number | undefined): Buffer {
  if (ev.kind === 'trunc') {
    const out = Buffer.alloc(ev.size)
    base.copy(out, 0, 0, Math.min(base.length, ev.size))
    return out
  }
  if (ev.kind !== 'write') throw new Error('not a data operation')
  const data = cut === undefined ? ev.data : ev.data.subarray(0, cut)
  const out = Buffer.alloc(Math.max(base.length, ev.off + data.length))
  base.copy(out)
  data.copy(out, ev.off)
  return out
}
