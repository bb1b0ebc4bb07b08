/**
 * Writing a record that lineage may have grown. A re-log, a move to the permanent log, a
 * requeue or a repair adds to an entry's header (history, firstReason, redrives, origin, a
 * stack): a record logged just under `maxRecordSize` could come out over it, and the next
 * replay would quarantine it whole. So when the line would exceed the limit, its lineage is
 * shrunk — never its payload — in this order until it fits: the stack goes, then the history,
 * oldest attempt first, then the reasons (the current one and the first) are cut as the
 * reason cap cuts them (src/base/reason.ts). Only when even that does not fit (the payload
 * with the fields no lineage rule may drop — ts, attempt, id, firstTs, dueTs, the error's
 * name and code, origin, editOf, the trace context — is too large) is the record written as
 * it is, which is what happened before: the next replay quarantines it, its whole line kept.
 */
import { type EnvelopeHeader, encodeHeader, encodeTrailer } from './envelope.js'
import { ByteSink } from './sink.js'
import { truncateReason } from '../base/reason.js'

/** `h`, `id` and the payload's JSON text as one line; its lineage shrunk to keep it within `maxRecordSize` (the line without its newline, as replay measures it). */
export function writeRecord(sink: ByteSink, h: EnvelopeHeader, id: string | undefined, payload: string, maxRecordSize: number): void {
  const mark = sink.len
  encodeHeader(sink, h.ts, h.attempt, h.reason, id, h)
  const headerBytes = sink.len - mark
  sink.utf8(payload)
  encodeTrailer(sink)
  const lineBytes = sink.len - mark - 1
  if (lineBytes <= maxRecordSize) return
  const fitted = fitHeader(h, id, maxRecordSize - (lineBytes - headerBytes))
  if (fitted === undefined) return
  sink.len = mark
  encodeHeader(sink, fitted.ts, fitted.attempt, fitted.reason, id, fitted)
  sink.utf8(payload)
  encodeTrailer(sink)
}

/** A copy of `h` whose encoding takes at most `budget` bytes, its lineage shrunk in the order above; undefined when none does. */
export function fitHeader(h: EnvelopeHeader, id: string | undefined, budget: number): EnvelopeHeader | undefined {
  if (budget <= 0) return undefined
  const scratch = new ByteSink(1024)
  const size = (x: EnvelopeHeader): number => {
    scratch.reset()
    encodeHeader(scratch, x.ts, x.attempt, x.reason, id, x)
    return scratch.len
  }
  const x: EnvelopeHeader = { ...h }
  if (x.firstReason) x.firstReason = { ...x.firstReason }
  delete x.stack
  if (size(x) <= budget) return x
  if (x.history) {
    const history = [...x.history]
    while (history.length > 0) {
      history.shift()
      if (history.length > 0) x.history = history
      else delete x.history
      if (size(x) <= budget) return x
    }
  }
  const first = h.firstReason?.reason ?? null
  // One cap for both reasons (a shorter one stays whole): the largest that fits, found by
  // bisection — a character is 1 to 6 bytes once escaped, so bytes over say little about how many to cut.
  const cut = (cap: number): number => {
    if (h.reason !== null) x.reason = h.reason.length > cap ? truncateReason(h.reason, cap) : h.reason
    if (first !== null) x.firstReason!.reason = first.length > cap ? truncateReason(first, cap) : first
    return size(x)
  }
  if (cut(0) > budget) return undefined
  let lo = 0
  let hi = Math.max(h.reason?.length ?? 0, first?.length ?? 0)
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (cut(mid) <= budget) lo = mid
    else hi = mid - 1
  }
  cut(lo)
  return x
}
