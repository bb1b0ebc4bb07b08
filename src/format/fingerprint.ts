/**
 * The fingerprint of a failure reason: its message with the variable parts collapsed, so one
 * failure mode is one group ("timeout after 3012ms" and "timeout after 2981ms" are the same).
 * `stats` groups by it; inspect entries carry it so a UI can link an entry to its group.
 */
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi
const ISO_TIME = /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}\b/g
const HEX = /\b(?:0x)?[0-9a-f]{8,}\b/gi
const NUMBER = /\d+(?:\.\d+)?/g

/**
 * Uuids, timestamps, IPv4 addresses, long hex ids (with at least one digit and one letter, so
 * words and plain numbers are left to the other rules) and numbers become placeholders.
 */
export function fingerprint(reason: string | null): string {
  if (typeof reason !== 'string') return '(no reason)'
  const s = reason.length > 500 ? reason.slice(0, 500) : reason
  return s
    .replace(UUID, '<uuid>')
    .replace(ISO_TIME, '<time>')
    .replace(IPV4, '<ip>')
    .replace(HEX, (m) => (/\d/.test(m) && /[a-f]/i.test(m.replace(/^0x/i, '')) ? '<hex>' : m))
    .replace(NUMBER, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
}
