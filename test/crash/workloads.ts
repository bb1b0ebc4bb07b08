/**
 * The explored workloads and how a test runs one: CI explores every crash point of each and
 * recovers a seeded sample of the distinct states; `npm run crash` (DLQ_CRASH_FULL=1)
 * recovers every one. The seed is printed; DLQ_CRASH_SEED repeats a run.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect } from 'vitest'
import { bundle } from './bundle.js'
import { explore, type ExploreOptions, type Report, summarize, type Workload } from './explore.js'
import type { Model } from './states.js'

export const logFsync: Workload = {
  name: 'log (fsync)',
  script: 'workloads/log.ts',
  args: ['fsync'],
  log: 'dlq/orders.log',
  durability: 'fsync',
  compress: true,
  maxDeliveries: 1,
}

export const logKernel: Workload = { ...logFsync, name: 'log (kernel)', args: ['kernel'], durability: 'kernel', lossAllowed: true }

/** A replay may redo, after a power cut, what the cut run had done since its checkpoint's file was last synced: once. */
export const replayWhileLogging: Workload = {
  name: 'replay while logging',
  script: 'workloads/replay.ts',
  setup: [],
  log: 'dlq/orders.log',
  durability: 'fsync',
  compress: false,
  maxDeliveries: 2,
}

export const requeuePurge: Workload = {
  name: 'requeue + purge',
  script: 'workloads/admin.ts',
  setup: [],
  log: 'dlq/orders.log',
  durability: 'fsync',
  compress: false,
  maxDeliveries: 1,
  exactlyOneLog: true,
}

export function ship(url: string, schema: string): Workload {
  return {
    name: 'ship',
    script: 'workloads/ship.ts',
    args: [url, schema],
    setup: [],
    log: 'dlq/orders.log',
    durability: 'fsync',
    compress: false,
    maxDeliveries: 1,
    idPattern: /"id":"(q\d+)"/g,
  }
}

/** The regression tests' small fsync run (workloads/small.ts): `args` = log, records, rotateSize[, interval]. */
export function small(name: string, args: string[], setupDir?: string): Workload {
  return {
    name: `regression: ${name}`,
    script: 'workloads/small.ts',
    ...(setupDir !== undefined ? { setup: [setupDir] } : {}),
    args,
    log: args[0]!,
    durability: 'fsync',
    compress: false,
    maxDeliveries: 1,
  }
}

export const FULL = process.env.DLQ_CRASH_FULL === '1'
export const SEED = Number(process.env.DLQ_CRASH_SEED ?? Date.now() % 1_000_000)

/** Distinct states recovered per model in CI (every one with DLQ_CRASH_FULL=1). */
const CI_BUDGET = Number(process.env.DLQ_CRASH_BUDGET ?? 10)

/** Time for one test: the trace, the on-disk checks, and the recoveries. */
export const TEST_TIMEOUT = FULL ? 6 * 3600_000 : 180_000

export interface RunOptions {
  models?: Model[]
  budget?: number
  select?: ExploreOptions['select']
}

export async function runWorkload(w: Workload, o: RunOptions = {}): Promise<Report> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-crash-'))
  const b = await bundle([w.script, 'recover.ts'])
  try {
    console.log(`[crash] ${w.name}: seed ${SEED} (DLQ_CRASH_SEED=${SEED} to repeat)${FULL ? ', every distinct state recovered' : ''}`)
    const report = await explore(w, {
      models: o.models ?? ['strict', 'ext4'],
      seed: SEED,
      random: 2,
      budget: FULL ? undefined : (o.budget ?? CI_BUDGET),
      concurrency: Math.max(1, Math.min(2, os.availableParallelism())),
      work,
      bundle: b,
      ...(o.select ? { select: o.select } : {}),
    })
    for (const line of summarize(report)) console.log(line)
    for (const m of report.models) for (const v of m.violations) console.log(`[crash]   ${m.model}: ${v.invariant} at crash point ${v.k} (after ${v.after}; ${v.choice}): ${v.detail}`)
    if (process.env.DLQ_CRASH_REPORT_FILE) fs.appendFileSync(process.env.DLQ_CRASH_REPORT_FILE, JSON.stringify({ seed: SEED, full: FULL, ...report }) + '\n')
    return report
  } finally {
    b.remove()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/** Every model recovered states and no invariant broke. */
export function expectHolds(report: Report): void {
  for (const m of report.models) {
    expect(m.recovered, `${report.workload} (${m.model}): states recovered`).toBeGreaterThan(0)
    expect(m.violations, `${report.workload} (${m.model}): violations`).toEqual([])
  }
}
