/**
 * Scenario 5: peak RSS, each case alone in a fresh child process so the high-water mark is
 * its own. Peak = process.resourceUsage().maxRSS (the kernel's ru_maxrss), cross-checked
 * against process.memoryUsage().rss sampled every 50 ms; the idle RSS right after start-up
 * (node + tsx + imports) is reported alongside so the library's share is visible.
 *
 *   log <count>     log `count` 120 B envelopes as fast as a well-behaved producer can:
 *                   bursts of 1,000 un-awaited log() then await Promise.all, default options
 *   replay <dir>    replay the segment(s) already generated in <dir> with a no-op handler
 */
import path from 'node:path'
import { Logger } from '../../src/write/logger.js'
import { replay } from '../../src/replay/index.js'
import { type Row, QUICK, REASON, fail, mib, now, orderPool, perSec, report, rmScratch, scratchDir } from '../lib/common.js'

const GROUP = '5. memory (peak RSS, own child process)'

interface Peaks {
  rss: number
  heapTotal: number
  external: number
}

function sampler(): { stop(): Peaks } {
  const peak: Peaks = { rss: 0, heapTotal: 0, external: 0 }
  const sample = () => {
    const m = process.memoryUsage()
    peak.rss = Math.max(peak.rss, m.rss)
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal)
    peak.external = Math.max(peak.external, m.external)
  }
  sample()
  const t = setInterval(sample, 50)
  return {
    stop() {
      clearInterval(t)
      sample()
      return peak
    },
  }
}

function describe(p: Peaks, idle: number): string {
  return (
    `maxRSS; sampled peaks: RSS ${mib(p.rss).toFixed(1)} MiB, V8 heap ${mib(p.heapTotal).toFixed(1)} MiB, ` +
    `external ${mib(p.external).toFixed(1)} MiB; idle after start ${mib(idle).toFixed(1)} MiB`
  )
}

async function logCase(count: number): Promise<Row> {
  const pool = orderPool('120B')
  const dir = scratchDir('memlog')
  try {
    const dlq = await Logger.open(path.join(dir, 'bench.log'))
    const idle = process.memoryUsage().rss
    const s = sampler()
    const mask = pool.length - 1
    const ps: Promise<void>[] = new Array(1000)
    const t0 = now()
    for (let done = 0; done < count; done += 1000) {
      for (let j = 0; j < 1000; j++) ps[j] = dlq.log(pool[(done + j) & mask], REASON)
      await Promise.all(ps)
    }
    const ms = now() - t0
    await dlq.close()
    const sampled = s.stop()
    const peak = process.resourceUsage().maxRSS * 1024
    return {
      group: GROUP,
      name: `logging ${count.toLocaleString('en-US')} envelopes`,
      payload: '120B',
      value: mib(peak),
      unit: 'MiB',
      lowerIsBetter: true,
      target: 100,
      note:
        `${describe(sampled, idle)}; ${Math.round(perSec(count, ms)).toLocaleString('en-US')} env/s` +
        (QUICK ? ' (--quick: fewer envelopes than the 10M of a full run)' : ''),
    }
  } finally {
    rmScratch(dir)
  }
}

async function replayCase(dir: string, bytes: number): Promise<Row> {
  const idle = process.memoryUsage().rss
  const s = sampler()
  const t0 = now()
  const summary = await replay(path.join(dir, 'bench.log'), () => {})
  const ms = now() - t0
  const sampled = s.stop()
  const peak = process.resourceUsage().maxRSS * 1024
  return {
    group: GROUP,
    name: `replaying a ${bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(1)} GiB` : `${mib(bytes).toFixed(0)} MiB`} segment`,
    payload: '120B',
    value: mib(peak),
    unit: 'MiB',
    lowerIsBetter: true,
    target: 100,
    note:
      `${describe(sampled, idle)}; ${summary.handled.toLocaleString('en-US')} items, ` +
      `${Math.round(perSec(summary.handled, ms)).toLocaleString('en-US')} items/s` +
      (QUICK ? ' (--quick: a smaller segment than the 1 GB of a full run)' : ''),
  }
}

try {
  const [kind, arg, arg2] = process.argv.slice(2)
  if (kind === 'log') report({ rows: [await logCase(Number(arg))], notes: [] })
  else if (kind === 'replay') report({ rows: [await replayCase(arg, Number(arg2))], notes: [] })
  else throw new Error('usage: memory.ts log <count> | replay <dir> <bytes>')
} catch (err) {
  fail(err)
}
