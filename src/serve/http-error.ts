/**
 * Every failure a request can meet becomes one status and one sentence: bad input is the
 * caller's to fix (4xx, said plainly), anything else is a 500 without a stack trace (the
 * message may name a file, never the process's internals).
 */
import { DeadLetterError } from '../base/errors.js'

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 421 | 500 | 503,
    message: string,
    readonly code = 'DLQ_HTTP',
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, message, 'DLQ_INVALID_ARGUMENT')
}

export function notFound(message: string): HttpError {
  return new HttpError(404, message, 'DLQ_NOT_FOUND')
}

export interface ErrorBody {
  error: string
  code: string
  status: number
}

/** The library's error codes that are not a 500. */
const STATUS: Record<string, ErrorBody['status']> = { DLQ_INVALID_OPTION: 400, DLQ_INVALID_ARGUMENT: 400, DLQ_ABORTED: 503, DLQ_LOCKED: 409, DLQ_REPLAY_LOCKED: 409 }

export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof HttpError) return { error: err.message, code: err.code, status: err.status }
  if (err instanceof DeadLetterError) return { error: err.message.replace(/^dlq: /, ''), code: err.code, status: STATUS[err.code] ?? 500 }
  if (isAbort(err)) return { error: 'the request was cancelled', code: 'DLQ_ABORTED', status: 503 }
  return { error: 'internal error: ' + String((err as Error)?.message ?? err).slice(0, 300), code: 'DLQ_INTERNAL', status: 500 }
}

export function isAbort(err: unknown): boolean {
  return (err as Error | undefined)?.name === 'AbortError' || (err as { code?: unknown } | undefined)?.code === 'ABORT_ERR'
}
