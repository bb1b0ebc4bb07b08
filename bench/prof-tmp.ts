import path from 'node:path'
import fs from 'node:fs'
import { replay } from '../src/replay.js'
import { orderPool, writeSegments, envelopeLine } from './lib/common.js'
const dir = fs.mkdtempSync('/tmp/engine-prof/run-')
const pool = orderPool('120B')
const per = Math.floor(64 * 1024 * 1024 / Buffer.byteLength(envelopeLine(1_700_000_000_000, pool[0])))
const N = 1_000_000
const opts = process.argv[2] === 'r1' ? { retries: 1 } : {}
function bare(files: string[]) {
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024); let items = 0
  const b8 = buf as unknown as { utf8Slice(s: number, e: number): string }
  const use = (v: unknown) => { if (v === null) items-- }
  for (const f of files) {
    const fd = fs.openSync(f, 'r'); let pos = 0; let keep = 0
    for (;;) { const n = fs.readSync(fd, buf, keep, buf.length - keep, pos); if (n === 0) break; pos += n; const end = keep + n; let i = 0
      for (let nl = buf.indexOf(10, i); nl !== -1 && nl < end; nl = buf.indexOf(10, i)) { use(JSON.parse(b8.utf8Slice(i, nl))); items++; i = nl + 1 }
      keep = end - i; buf.copy(buf, 0, i, end) }
    fs.closeSync(fd)
  }
  return items
}
const B: number[] = [], R: number[] = []
for (let rep = 0; rep < Number(process.env.REPS ?? 3); rep++) {
  const files = writeSegments(dir, 'bench', pool, N, per)
  let c0 = process.cpuUsage(); bare(files); let c = process.cpuUsage(c0); B.push((c.user + c.system) / N)
  c0 = process.cpuUsage()
  const s = await replay(path.join(dir, 'bench.log'), () => {}, opts)
  c = process.cpuUsage(c0); R.push((c.user + c.system) / N)
  if (s.handled !== N) throw new Error('x')
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
console.log('bare', B.map((x) => x.toFixed(2)).join(' '), 'replay', R.map((x) => x.toFixed(2)).join(' '), 'ratio(med)', (med(B) / med(R)).toFixed(2), 'ratio(min)', (Math.min(...B) / Math.min(...R)).toFixed(2))
fs.rmSync(dir, { recursive: true, force: true })
