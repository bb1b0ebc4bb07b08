import { parseEnvelope } from '../src/envelope.js'
import { orderPool, envelopeLine } from './lib/common.js'
const pool = orderPool('120B')
const lines = pool.map((p, i) => Buffer.from(envelopeLine(1_700_000_000_000 + i, p).slice(0, -1)))
const N = 2_000_000
function run(name: string, f: (b: Buffer) => unknown) {
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage(); let k = 0
    for (let i = 0; i < N; i++) { if (f(lines[i & 1023]) !== null) k++ }
    const c = process.cpuUsage(c0)
    if (r === 2) console.log(name, ((c.user + c.system) / N).toFixed(3), 'µs')
  }
}
run('toString+parse', (b) => JSON.parse(b.toString('utf8', 0, b.length)))
run('utf8Slice+parse', (b) => JSON.parse((b as any).utf8Slice(0, b.length)))
run('utf8Slice+parseEnvelope', (b) => parseEnvelope((b as any).utf8Slice(0, b.length)))
run('toString+includes+parseEnvelope', (b) => { const s = b.toString('utf8', 0, b.length); if (s.includes('\uFFFD')) return null; return parseEnvelope(s) })
