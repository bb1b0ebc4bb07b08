/**
 * Failure groups (the reason groups `stats` counts, by fingerprint) as links: a group opens
 * the entries page filtered to exactly its entries.
 */
import { OTHER_REASONS } from '../format/reasons.js'
import { badRequest } from './http-error.js'

/** What `fingerprint()` calls a missing reason. */
const NO_REASON = '(no reason)'

// The placeholders `stats` writes for the variable parts of a reason, and what they stood for.
const PLACEHOLDERS: Record<string, string> = {
  '<uuid>': '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}',
  '<time>': '\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?',
  '<ip>': '\\d{1,3}(?:\\.\\d{1,3}){3}',
  '<hex>': '(?:0x)?[0-9a-fA-F]{8,}',
  '<n>': '\\d+(?:\\.\\d+)?',
}
// Fingerprints are cut at 500 characters of reason; a long one can only be matched as a prefix.
const PREFIX_ONLY_FROM = 400

/**
 * A reason regex that selects the entries of one group, so a group link opens an ordinary,
 * editable filter (and requeue/purge of "all matching" acts on exactly what is listed).
 * Undefined for the lumped-together rest, which is no one pattern.
 */
export function fingerprintRegex(fingerprint: string): string | undefined {
  if (fingerprint === OTHER_REASONS) return undefined
  if (fingerprint === NO_REASON) return '^$'
  let out = '^\\s*'
  for (const part of fingerprint.split(/(<uuid>|<time>|<ip>|<hex>|<n>| )/)) {
    if (part === '') continue
    if (part === ' ') out += '\\s+'
    else out += PLACEHOLDERS[part] ?? part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return fingerprint.length >= PREFIX_ONLY_FROM ? out : out + '\\s*$'
}

export type GroupBy = 'first' | 'last'

/**
 * `groupBy=first`: groups by the reason each entry first failed with (its lineage), as
 * `stats({ groupBy: 'first' })` counts them; the default is the last reason.
 */
export function parseGroupBy(q: Record<string, unknown>): GroupBy {
  const v = q.groupBy
  if (v === undefined || v === '' || v === 'last') return 'last'
  if (v === 'first') return 'first'
  throw badRequest('groupBy: expected first or last')
}
