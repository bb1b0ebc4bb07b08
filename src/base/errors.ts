/**
 * Every error the library raises is a DeadLetterError with a stable `code`.
 * Codes are part of the public API: scripts and alerts match on them, so they never change
 * meaning. The original error (with native codes such as ENOSPC) is kept as `cause`.
 */

export type DeadLetterErrorCode =
  | 'DLQ_CLOSED'
  | 'DLQ_LOCKED'
  | 'DLQ_LOCK_LOST'
  | 'DLQ_REPLAY_LOCKED'
  | 'DLQ_SERIALIZE'
  | 'DLQ_RECORD_TOO_LARGE'
  | 'DLQ_FULL'
  | 'DLQ_INVALID_OPTION'
  | 'DLQ_INVALID_ARGUMENT'
  | 'DLQ_IO'
  | 'DLQ_UNSAFE_PATH'
  | 'DLQ_NOT_FOUND'
  | 'DLQ_ABORTED'
  /** The central PostgreSQL store failed (unreachable, refused, query error); local files are untouched. */
  | 'DLQ_DB'
  /** A requeue's transform module could not be loaded (missing, threw while loading, exports no function); nothing was changed. */
  | 'DLQ_TRANSFORM'

export class DeadLetterError extends Error {
  readonly code: DeadLetterErrorCode
  /**
   * The operating system's error code (ENOSPC, EACCES, ELOOP, …) when the failure came from
   * the file system, so callers can tell a full disk from a permission problem without
   * unwrapping `cause`.
   */
  readonly systemCode?: string

  constructor(code: DeadLetterErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DeadLetterError'
    this.code = code
    const sys = systemCodeOf(options.cause)
    if (sys !== undefined) this.systemCode = sys
  }
}

/** Thrown by a replay handler to send an item straight to the permanent log. */
export class PermanentError extends Error {
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message ?? 'permanent failure', options)
    this.name = 'PermanentError'
  }
}

export function isPermanentError(err: unknown): boolean {
  try {
    // instanceof alone fails when a handler module resolved its own copy of the package.
    return err instanceof PermanentError || (err instanceof Error && err.name === 'PermanentError')
  } catch {
    // A thrown Proxy or a throwing `name` getter: whatever it is, it did not ask to be permanent.
    return false
  }
}

export function systemCodeOf(err: unknown): string | undefined {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code
    if (err instanceof DeadLetterError) return err.systemCode
  }
  return undefined
}

/** Wraps a file-system failure, keeping the native code visible in message and property. */
export function ioError(action: string, err: unknown): DeadLetterError {
  if (err instanceof DeadLetterError) return err
  const msg = err instanceof Error ? err.message : String(err)
  const code = systemCodeOf(err)
  if (code === 'ELOOP') {
    return new DeadLetterError('DLQ_UNSAFE_PATH', `dlq: ${action}: refusing to follow a symbolic link (${msg})`, {
      cause: err,
    })
  }
  return new DeadLetterError('DLQ_IO', `dlq: ${action}: ${msg}`, { cause: err })
}

export function invalidOption(name: string, expected: string, got: unknown): DeadLetterError {
  return new DeadLetterError(
    'DLQ_INVALID_OPTION',
    `dlq: option \`${name}\` must be ${expected}, got ${describe(got)}`,
  )
}

export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v)
  if (typeof v === 'function') return 'a function'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  return String(v)
}
