/** The central PostgreSQL store as an inspector source (needs the store from src/postgres/). */
import { DeadLetterError } from '../errors.js'
import type { Limiter } from './cache.js'
import type { Source } from './sources.js'

export async function openStoreSource(_url: string, _key: string, _scans: Limiter): Promise<Source> {
  throw new DeadLetterError('DLQ_INVALID_OPTION', 'dlq: option `db`: the central store is not available in this build yet')
}
