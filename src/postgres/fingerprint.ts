/**
 * A reason's fingerprint: the admin API's normalisation, the one `dletter stats` groups by
 * (uuids, times, ips, hex ids and numbers masked), computed once when an entry is shipped and stored in an indexed column,
 * so grouping the whole fleet by failure mode is an index scan, not a regex per row.
 */
import { fingerprint as normalizeReason } from '../format/fingerprint.js'
import { pgText } from './pg-text.js'

// Reasons repeat (one failure mode, thousands of entries): remember the last few hundred.
const cache = new Map<string, string>()
const CACHE_MAX = 512

export function fingerprintOf(reason: string | null): string {
  if (reason === null) return normalizeReason(null)
  const hit = cache.get(reason)
  if (hit !== undefined) return hit
  // Stored in a text column: the reason may carry U+0000, a lone surrogate, or end (cut at 500
  // characters) in half a surrogate pair.
  const fp = pgText(normalizeReason(reason))
  if (cache.size >= CACHE_MAX) cache.clear()
  if (reason.length <= 1000) cache.set(reason, fp)
  return fp
}
