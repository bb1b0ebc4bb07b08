/**
 * Database failures as DeadLetterError `DLQ_DB`. The message names the native cause
 * (ECONNREFUSED, 28P01, …) so an operator sees why at once; connection strings are masked
 * because pg puts host, user and sometimes the password into its messages.
 */
import { DeadLetterError } from '../base/errors.js'
import { maskSecrets } from '../base/redact.js'

function causeCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[] } | null
  if (e && typeof e.code === 'string' && e.code.length > 0) return e.code
  // Node's happy-eyeballs connect rejects with an AggregateError whose parts carry the code.
  if (e && Array.isArray(e.errors)) for (const x of e.errors) if (typeof (x as { code?: unknown })?.code === 'string') return (x as { code: string }).code
  return undefined
}

/** The SQLSTATE a statement failed with, also through a DLQ_DB wrapper (undefined for other failures). */
export function sqlStateOf(err: unknown): string | undefined {
  const e = err instanceof DeadLetterError ? err.cause : err
  const code = (e as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/**
 * Whether the server rolled back a whole transaction for a reason of the moment, not of the
 * statement: 40P01 deadlock_detected (two transactions waited on each other; one was
 * chosen to fail) and 40001 serialization_failure (under a stricter isolation level an
 * operator may have set as the default). Running the same transaction again is the cure.
 */
export function isTransient(err: unknown): boolean {
  const state = sqlStateOf(err)
  return state === '40P01' || state === '40001'
}

/** SQLSTATE invalid_regular_expression: the only pattern the store sends is the `reason` filter's. */
const INVALID_REGULAR_EXPRESSION = '2201B'

export function dbError(action: string, err: unknown): DeadLetterError {
  if (err instanceof DeadLetterError) return err
  const code = causeCode(err)
  const raw = err instanceof Error ? err.message || err.name : String(err)
  if (code === INVALID_REGULAR_EXPRESSION) {
    return new DeadLetterError(
      'DLQ_INVALID_OPTION',
      `dlq: option \`reason\` must be a regular expression PostgreSQL accepts (its syntax, not JavaScript's: no named groups, no \\p{…}, at most 255 repetitions): ${raw}`,
      { cause: err },
    )
  }
  const msg = maskSecrets(raw || code || 'unknown error')
  const withCode = code && !msg.includes(code) ? `${code}: ${msg}` : msg
  return new DeadLetterError('DLQ_DB', `dlq: ${action}: ${withCode}`, { cause: err })
}
