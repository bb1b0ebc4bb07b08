/**
 * What the fleet soak's central handlers record, and the check that no entry was ever in two
 * handlers at once.
 *
 * Each worker process appends to a file of its own (`worker-<pid>.txt`, opened O_APPEND), one
 * write() per line, before the handler goes on: a SIGKILL loses nothing already written (the
 * page cache outlives the process). Times are process.hrtime — CLOCK_MONOTONIC on Linux, one
 * clock for every process on the machine, the parent included.
 *
 *   B <seq> <key> <t>            a handler call for row <seq> began
 *   E <seq> <key> <t> <outcome>  it returned (ok) or threw (throw)
 *
 * A call of a SIGKILLed worker has no E line. Its interval ends when its process died: the
 * parent's hrtime just before it sent SIGKILL (the process runs no more JavaScript after
 * that), or, for a process that died on its own, the parent's hrtime when it saw the exit
 * (later than the death: an interval can only grow, so no overlap is missed).
 */
import fs from 'node:fs'
import path from 'node:path'

export type Outcome = 'ok' | 'throw'

export class HandlerRecorder {
  private readonly fd: number

  constructor(dir: string) {
    this.fd = fs.openSync(path.join(dir, `worker-${process.pid}.txt`), 'a')
  }

  begin(seq: number, key: string): void {
    fs.writeSync(this.fd, `B ${seq} ${key} ${process.hrtime.bigint()}\n`)
  }

  end(seq: number, key: string, outcome: Outcome): void {
    fs.writeSync(this.fd, `E ${seq} ${key} ${process.hrtime.bigint()} ${outcome}\n`)
  }
}

export interface Interval {
  seq: number
  key: string
  pid: number
  begin: bigint
  /** Undefined until closed by closeOpen() when the call never returned. */
  end: bigint | undefined
  /** Undefined when the call never returned (its process died first). */
  outcome: Outcome | undefined
}

/** Every handler call recorded in `dir`, in file order per process. */
export function readIntervals(dir: string): Interval[] {
  const out: Interval[] = []
  for (const name of fs.readdirSync(dir)) {
    const m = /^worker-(\d+)\.txt$/.exec(name)
    if (!m) continue
    const pid = Number(m[1])
    const open = new Map<number, Interval>()
    const text = fs.readFileSync(path.join(dir, name), 'utf8')
    // A line cut by the SIGKILL (never seen: each is one short write) would be the last one.
    for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
      const f = line.split(' ')
      if (f[0] === 'B' && f.length === 4) {
        const iv: Interval = { seq: Number(f[1]), key: f[2]!, pid, begin: BigInt(f[3]!), end: undefined, outcome: undefined }
        open.set(iv.seq, iv)
        out.push(iv)
      } else if (f[0] === 'E' && f.length === 5) {
        const iv = open.get(Number(f[1]))
        if (!iv) throw new Error(`${name}: end of a handler call that never began: ${line}`)
        iv.end = BigInt(f[3]!)
        iv.outcome = f[4] as Outcome
        open.delete(iv.seq)
      } else if (line !== '') {
        throw new Error(`${name}: unreadable handler record ${JSON.stringify(line)}`)
      }
    }
  }
  return out
}

/** Close the calls that never returned at their process's death; returns how many there were. */
export function closeOpen(intervals: Interval[], deathOf: (pid: number) => bigint | undefined): number {
  let n = 0
  for (const iv of intervals) {
    if (iv.end !== undefined) continue
    const death = deathOf(iv.pid)
    if (death === undefined) throw new Error(`handler call of row ${iv.seq} in process ${iv.pid} never ended and the process is not known to be dead`)
    iv.end = death
    n++
  }
  return n
}

/** Pairs of calls on the same row whose intervals intersect. */
export function overlaps(intervals: Interval[]): Array<[Interval, Interval]> {
  const bySeq = new Map<number, Interval[]>()
  for (const iv of intervals) {
    const l = bySeq.get(iv.seq)
    if (l) l.push(iv)
    else bySeq.set(iv.seq, [iv])
  }
  const out: Array<[Interval, Interval]> = []
  for (const list of bySeq.values()) {
    list.sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0))
    let last = list[0]!
    for (const iv of list.slice(1)) {
      if (iv.begin < last.end!) out.push([last, iv])
      if (iv.end! > last.end!) last = iv
    }
  }
  return out
}
