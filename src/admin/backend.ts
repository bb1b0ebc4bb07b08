/** `logBackend(path)`: a local log's calls as a Backend, the shape a PostgresStore has. */
import type { Backend, LocalOptions } from '../format/model.js'
import { inspect } from './inspect.js'
import { purge } from './purge.js'
import { readAudit } from './read-audit.js'
import { readEntry } from './read-entry.js'
import { requeue } from './requeue.js'
import { stats } from './stats.js'

/** `options` go with every call (a log written with a larger `maxRecordSize` is read with it). */
export function logBackend(path: string, options: Pick<LocalOptions, 'maxRecordSize'> = {}): Backend {
  return {
    stats: (o) => stats(path, { ...o, ...options }),
    inspect: (o) => inspect(path, { ...o, ...options }),
    readEntry: (ref) => readEntry(path, ref, options),
    readAudit: (ref, o) => readAudit(path, ref, { ...o, ...options }),
    requeue: (o) => requeue(path, { ...o, ...options }),
    purge: (o) => purge(path, { ...o, ...options }),
    close: async () => {},
  }
}
