/**
 * The explorer's model of a power cut (states.ts), on a hand-made recording: what each
 * model may undo or lose, so the workload tests rest on a checked model.
 */
import { describe, expect, it } from 'vitest'
import { Rng } from '../helpers/rng.js'
import type { Event, Ino, InodeInfo, Recording } from './record.js'
import { Frontier, type Model } from './states.js'

type Spec = { kind: string; [k: string]: unknown }

/** /r (inode 1) with `events`; lines are event positions, an fsync entered on its own line. */
function recording(specs: Spec[]): Recording {
  const inodes = new Map<Ino, InodeInfo>([[1, { kind: 'dir', initial: Buffer.alloc(0), history: [] }]])
  const events = specs.map((s, i) => {
    const ev = { ...s, i, entry: i, exit: i, pid: 1 } as unknown as Event
    if (ev.kind === 'create' && !inodes.has(ev.ino)) inodes.set(ev.ino, { kind: 'file', initial: Buffer.alloc(0), history: [] })
    if (ev.kind === 'write' || ev.kind === 'trunc') inodes.get(ev.ino)!.history.push(i)
    return ev
  })
  return { root: '/r', inodes, initialNames: new Map([['/r', 1]]), events }
}

const create = (ino: Ino, p: string): Spec => ({ kind: 'create', ino, path: p, names: [p], dirs: ['/r'] })
const rename = (ino: Ino, from: string, to: string): Spec => ({ kind: 'rename', ino, path: from, to, names: [from, to], dirs: ['/r'] })
const write = (ino: Ino, off: number, text: string): Spec => ({ kind: 'write', ino, off, data: Buffer.from(text) })
const fsync = (ino: Ino, dir?: string): Spec => ({ kind: 'fsync', ino, dir })

/** Every distinct outcome at the last crash point, as `name=content` lists. */
function outcomes(model: Model, specs: Spec[]): Set<string> {
  const f = new Frontier(recording(specs), model)
  while (!f.done) f.advance()
  const out = new Set<string>()
  for (const c of f.choices(new Rng(1), 8)) {
    const s = f.build(c)
    out.add([...s.files].map(([p, ref]) => `${p}=${f.content(ref).toString()}`).join(' '))
  }
  return out
}

describe('crash-state model', () => {
  it('strict: a file fsync keeps the data but not the name', () => {
    const got = outcomes('strict', [create(2, '/r/a'), write(2, 0, 'x\n'), fsync(2)])
    expect(got).toEqual(new Set(['/r/a=x\n', '']))
  })

  it('strict: a directory fsync makes the name durable', () => {
    const got = outcomes('strict', [create(2, '/r/a'), write(2, 0, 'x\n'), fsync(2), fsync(1, '/r')])
    expect(got).toEqual(new Set(['/r/a=x\n']))
  })

  it('ext4: a file fsync also commits earlier entry operations', () => {
    const got = outcomes('ext4', [create(2, '/r/a'), write(2, 0, 'x\n'), fsync(2)])
    expect(got).toEqual(new Set(['/r/a=x\n']))
  })

  it('unsynced data may be lost, cut at a write, or torn inside one', () => {
    const got = outcomes('ext4', [create(2, '/r/a'), fsync(1, '/r'), write(2, 0, 'aaaa\n'), write(2, 5, 'bbbb\n')])
    expect(got.has('/r/a=')).toBe(true)
    expect(got.has('/r/a=aaaa\n')).toBe(true)
    expect(got.has('/r/a=aaaa\nbbbb\n')).toBe(true)
    expect([...got].some((s) => /^\/r\/a=a{1,4}$|^\/r\/a=aaaa\nb{1,4}$/.test(s))).toBe(true)
  })

  it('a rename is undone together with what depended on it, never half', () => {
    const specs = [create(2, '/r/a'), write(2, 0, 'x\n'), fsync(2), fsync(1, '/r'), rename(2, '/r/a', '/r/b'), create(3, '/r/a'), write(3, 0, 'y\n'), fsync(3)]
    const strict = outcomes('strict', specs)
    // The new /r/a depends on the rename that freed its name: with the rename undone, so is it.
    expect(strict).toEqual(new Set(['/r/a=y\n /r/b=x\n', '/r/a=x\n', '/r/b=x\n']))
    const ext4 = outcomes('ext4', specs)
    expect(ext4).toEqual(new Set(['/r/a=y\n /r/b=x\n']))
  })

  it('durable data stays whatever is chosen', () => {
    const got = outcomes('strict', [create(2, '/r/a'), fsync(1, '/r'), write(2, 0, 'x\n'), fsync(2), write(2, 2, 'y\n')])
    for (const s of got) expect(s.startsWith('/r/a=x\n')).toBe(true)
  })
})
