/**
 * The optional arguments of `log()` / `logPermanent()`, in either of their two forms:
 *
 *   log(data, reason, { attempt, id })     // options object
 *   log(data, reason, attempt, { id })     // positional attempt, as in 0.1
 *
 * Checked here so a misspelt key or a string where the options belong fails loudly instead
 * of being ignored.
 */
import { DeadLetterError, describe } from '../base/errors.js'

export interface LogOptions {
  /** Attempts made so far, including this failure. Default 1. */
  attempt?: number
  /**
   * A stable id for idempotent consumers; kept across re-logs. A finite number is stored as
   * its string form (`42` → `"42"`), which is what replay, filters and the central store see.
   */
  id?: string | number
}

export interface LogArgs {
  attempt: number
  id: string | undefined
}

const OPTION_KEYS = ['attempt', 'id']
/** After a positional attempt, the options may not give it a second time. */
const POSITIONAL_KEYS = ['id']

/** Throws DLQ_INVALID_ARGUMENT; log() turns that into a rejection. */
export function parseLogArgs(method: string, third: unknown, fourth: unknown): LogArgs {
  if (third !== null && typeof third === 'object' && !Array.isArray(third)) {
    if (fourth !== undefined) {
      throw invalid(`${method}(data, reason, options) takes no fourth argument when the third is an options object`)
    }
    const o = checkKeys(method, third, OPTION_KEYS) as LogOptions
    return { attempt: checkAttempt(o.attempt ?? 1), id: checkId(o.id) }
  }
  if (third !== undefined && typeof third !== 'number') {
    throw invalid(`${method}(): the third argument must be an attempt number or an options object { attempt, id }, got ${describe(third)}`)
  }
  const attempt = checkAttempt(third ?? 1)
  if (fourth === undefined) return { attempt, id: undefined }
  if (fourth === null || typeof fourth !== 'object' || Array.isArray(fourth)) {
    throw invalid(`${method}(): the fourth argument must be an options object { id }, got ${describe(fourth)}`)
  }
  return { attempt, id: checkId((checkKeys(method, fourth, POSITIONAL_KEYS) as LogOptions).id) }
}

function checkKeys(method: string, o: object, known: string[]): object {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) {
      throw invalid(`${method}(): unknown option \`${key}\` (known: ${known.join(', ')})`)
    }
  }
  return o
}

function checkAttempt(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw invalid(`attempt must be an integer >= 1, got ${describe(v)}`)
  }
  return v
}

function checkId(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (v !== undefined && typeof v !== 'string') throw invalid(`id must be a string or a finite number, got ${describe(v)}`)
  return v
}

function invalid(message: string): DeadLetterError {
  return new DeadLetterError('DLQ_INVALID_ARGUMENT', `dlq: ${message}`)
}
