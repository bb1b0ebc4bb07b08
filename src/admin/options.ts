/**
 * What every admin function shares: the options it takes besides its own and the filter
 * (checked with base/checks.ts like the rest), and the error of an aborted operation.
 */
import { recordSize, signal } from '../base/checks.js'
import { DeadLetterError } from '../base/errors.js'
import { replayDefaults } from '../base/options.js'

/** Options every admin function takes besides its own and the filter. */
export const commonChecks = { maxRecordSize: recordSize, signal }

export interface Common {
  maxRecordSize: number
  signal: AbortSignal | undefined
}

export function common(o: { maxRecordSize?: number; signal?: AbortSignal }): Common {
  return { maxRecordSize: o.maxRecordSize ?? replayDefaults.maxRecordSize, signal: o.signal }
}

/** The rejection of an operation stopped by its signal. */
export function abortError(what: string, s: AbortSignal): DeadLetterError {
  return new DeadLetterError('DLQ_ABORTED', `dlq: ${what}() was aborted`, { cause: s.reason })
}
