/**
 * A reason's fingerprint: the CLI's `stats` normalisation (uuids, times, ips, hex ids and
 * numbers masked), computed once when an entry is shipped and stored in an indexed column,
 * so grouping the whole fleet by failure mode is an index scan, not a regex per row.
 */
import { normalizeReason } from '../cli/stats.js'

export function fingerprintOf(reason: string | null): string {
  const fp = normalizeReason(reason)
  // PostgreSQL text cannot hold U+0000.
  return fp.includes('\u0000') ? fp.replace(/\u0000/g, '\uFFFD') : fp
}
