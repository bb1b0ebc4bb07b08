import { appendFileSync } from 'node:fs'

/**
 * Fault-suite sizing: a fast subset by default (CI), the long run with SOAK=1. Every count
 * can be overridden by its own env variable so a soak can be sized to the time at hand.
 */
export const SOAK = process.env.SOAK === '1'

/** `env[name]` when set, else the fast or the soak default. */
export function count(name: string, fast: number, soak: number): number {
  const raw = process.env[name]
  if (raw !== undefined && raw !== '') {
    const n = Number(raw)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`)
    return n
  }
  return SOAK ? soak : fast
}

/** Seed for the suite's random choices; fixed so a failure replays exactly, overridable to explore. */
export const SEED = Number(process.env.DLQ_FAULT_SEED ?? 20241122)

/** Per-test timeout: generous for soak runs, which may take many minutes. */
export function budget(fastMs: number): number {
  return SOAK ? 60 * 60_000 : fastMs
}

/**
 * Figures the soak report quotes (kills, items, duplicates…): printed in soak runs, and
 * appended as JSON lines to DLQ_FAULT_REPORT_FILE when set.
 */
export function report(test: string, figures: Record<string, number | string>): void {
  const file = process.env.DLQ_FAULT_REPORT_FILE
  if (file) appendFileSync(file, JSON.stringify({ test, ...figures }) + '\n')
  if (SOAK) console.log(`[fault] ${test}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`)
}
