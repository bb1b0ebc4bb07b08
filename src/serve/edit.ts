/**
 * The payload editor's API (with --allow-writes): repair one entry, then redrive it, through
 * the library's own `requeue({ transform, why })` — the path `dletter requeue --transform`
 * takes — with a transform that returns the edited payload for exactly that entry and leaves
 * every other one untouched. So the preview is the library's dry run (and its diff text the
 * CLI's), and an applied edit is what a repair is everywhere: a new record with `editOf`,
 * attempts reset, audited with who and why; the original leaves.
 *
 * An edit is refused (409) when the entry is no longer the one the person looked at
 * (ServiceControl's rule: someone requeued, purged or replayed it meanwhile). The page sends
 * back the entry's `stamp`; it is checked before the run and again by the transform itself,
 * under the run's lock, so a change that lands between the two still moves nothing.
 */
import { createHash } from 'node:crypto'
import type { Context, Hono } from 'hono'
import { changeText, transformText } from '../format/change-text.js'
import type { Entry, RequeueResult, Transform } from '../format/model.js'
import { jsonBody, requireWrites } from './api.js'
import type { ServeContext } from './context.js'
import { HttpError, badRequest } from './http-error.js'
import type { Source } from './backend-source.js'
import type { SourceFilter } from './sources.js'
import { visible } from './views/format.js'

/** What the editor offers to edit: larger payloads are `requeue --transform`'s (and would not fit the request body limit). */
export const EDIT_MAX_CHARS = 128 * 1024
const WHY_MAX = 1000
const KEYS = new Set(['ref', 'stamp', 'payload', 'why', 'force', 'dryRun'])

/**
 * Which entry this is, by content: a ref names a place, and a place can hold another entry
 * later (an active file sealed and started again, a segment rewritten).
 */
export function entryStamp(e: Entry): string {
  const what = [e.kind, e.ts, e.attempt, e.reason, e.id ?? null, e.redrives ?? 0, e.firstTs ?? null, e.host ?? null, e.payload ?? null]
  return createHash('sha256').update(JSON.stringify(what)).digest('base64url').slice(0, 32)
}

/** Why this entry cannot be edited from a page (undefined: it can). */
export function notEditable(source: Source, e: Entry): string | undefined {
  if (e.kind === 'corrupt') return 'a corrupt-log record has no payload to edit'
  if (e.kind === 'retry' && source.kind === 'log') {
    return "a local log's retry entries belong to its replay; an entry can be edited once it is in the permanent log (the central store edits both)"
  }
  const text = JSON.stringify(e.payload ?? null, null, 2)
  if (text.length > EDIT_MAX_CHARS) return `the payload is over ${EDIT_MAX_CHARS / 1024} KiB: repair it with dletter requeue --transform`
  return undefined
}

interface EditBody {
  ref: string
  stamp: string
  payload: unknown
  why: string
  force: boolean
  dryRun: boolean
}

function parseBody(body: Record<string, unknown>): EditBody {
  const { ref, stamp, payload, why } = body
  if (typeof ref !== 'string' || ref === '' || ref.length > 1000) throw badRequest('ref: expected the entry reference its page was opened with')
  if (typeof stamp !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(stamp)) throw badRequest('stamp: expected the stamp the entry page gave')
  if (typeof why !== 'string' || why.trim() === '') throw badRequest('why: say why the payload is changed (it goes to the audit trail)')
  if (why.length > WHY_MAX) throw badRequest(`why: at most ${WHY_MAX} characters`)
  if (typeof payload !== 'string') throw badRequest('payload: expected the new payload as JSON text')
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch (err) {
    throw badRequest(`payload: not valid JSON (${(err as Error).message})`)
  }
  return { ref, stamp, payload: value, why: why.trim(), force: body.force === true, dryRun: body.dryRun !== false }
}

function stale(): HttpError {
  return new HttpError(
    409,
    'this entry is no longer where it was: it was requeued, purged, replayed or changed since this page was opened, so the edit was refused and nothing was changed. Open it again from the list.',
    'DLQ_STALE',
  )
}

export interface EditResult {
  /** Entries moved (dry run: that would be): 1. */
  count: number
  /** The preview: the transform's diff and the requeue's sentence, as the CLI prints them. */
  text: string
  summary: RequeueResult
}

export async function editEntry(ctx: ServeContext, source: Source, body: Record<string, unknown>, signal: AbortSignal | undefined): Promise<EditResult> {
  const b = parseBody(body)
  const e = await source.entry(b.ref)
  if (!e || entryStamp(e) !== b.stamp) throw stale()
  const why = notEditable(source, e)
  if (why !== undefined) throw badRequest(why)
  if (JSON.stringify(b.payload) === JSON.stringify(e.payload ?? null)) throw badRequest('payload: unchanged; edit it first')
  // The entry by its content and byte offset, not its file's name: a local requeue first seals
  // the active permanent file (a new name, the same offsets), and a compressed segment's ref
  // says `.gz` where the rewrite's does not. The filter below narrows it to one id and ms.
  const fix: Transform = (_payload, entry) => (entry.offset === e.offset && entryStamp(entry) === b.stamp ? b.payload : undefined)
  Object.defineProperty(fix, 'name', { value: `dletter serve: edit of ${e.ref}` })
  // The narrowest filter the library takes for this one entry; the transform picks it out.
  const filter: SourceFilter = { kind: e.kind, since: e.ts, until: e.ts + 1 }
  if (e.id !== undefined) filter.id = e.id
  if (e.host !== undefined) filter.host = e.host
  const run = (s: AbortSignal | undefined) => source.repair({ filter, transform: fix, why: b.why, force: b.force, dryRun: b.dryRun, signal: s })
  const r = b.dryRun ? await run(signal) : await ctx.jobs.run(source.key, 'requeue', run)
  const t = r.transform
  if (r.count === 0) {
    const failed = t?.failures[0]
    if (failed) throw badRequest(`the edited entry cannot be stored: ${failed.reason}`)
    if (r.heldBack > 0) {
      throw new HttpError(409, `held back by the loop guard: this entry was already requeued ${r.maxRedrives} times (maxRedrives); tick "force" to move it anyway`, 'DLQ_HELD_BACK')
    }
    throw stale()
  }
  return { count: r.count, text: (t ? transformText(t, r.dryRun, visible) : '') + changeText(r), summary: r }
}

export function editRoutes(app: Hono, ctx: ServeContext): void {
  app.post('/api/logs/:key/edit', async (c: Context) => {
    requireWrites(ctx)
    const source = ctx.source(c.req.param('key')!)
    return c.json(await editEntry(ctx, source, await jsonBody(c, KEYS, ['force', 'dryRun']), c.req.raw.signal))
  })

  app.get('/api/logs/:key/audit', async (c: Context) => {
    const source = ctx.source(c.req.param('key')!)
    return c.json({ records: await source.audit(c.req.query('ref') ?? '') })
  })
}
