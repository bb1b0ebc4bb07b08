/**
 * Repair before redrive, the part both backends share: loading a transform, applying it to
 * one entry (the new payload, or why the entry stays), the change as an RFC 6902 JSON Patch
 * (fast-json-patch), and the audit record a change leaves (src/admin/audit.ts writes them to
 * a file next to a local log, src/postgres/audit.ts to the central audit table).
 */
import { createHash, randomUUID } from 'node:crypto'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import jsonpatch from 'fast-json-patch'
import { DeadLetterError, invalidOption } from '../base/errors.js'
import { int, str } from '../base/checks.js'
import { describeReason } from '../base/reason.js'
import type { EntryLocation } from './envelope.js'
import type { AuditRecord, Entry, JsonPatchOp, ReadAuditOptions, Transform, TransformSummary } from './model.js'

export type { AuditRecord, ReadAuditOptions }

/** Dry run: how many changes the result shows. */
export const PREVIEW_ENTRIES = 5
/** Failure groups listed in a result. */
const FAILURE_GROUPS = 10

export interface LoadedTransform {
  fn: Transform
  source: TransformSummary['source']
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex')
}

/** A transform given as a function, or the module at `spec` (its default export, or one named `transform`). */
export async function loadTransform(spec: Transform | string, op: string): Promise<LoadedTransform> {
  if (typeof spec === 'function') return { fn: spec, source: { name: spec.name || 'anonymous', sha256: sha256(String(spec)) } }
  const file = path.resolve(spec)
  let bytes: Buffer
  try {
    bytes = await fsp.readFile(file)
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
    throw new DeadLetterError('DLQ_TRANSFORM', `dlq: ${op}(): transform module ${file} ${missing ? 'does not exist' : `cannot be read (${(err as Error).message})`}`, { cause: err })
  }
  const digest = sha256(bytes)
  let mod: Record<string, unknown>
  try {
    // The digest in the URL: a module edited since an earlier run in this process loads anew.
    mod = (await import(`${pathToFileURL(file).href}?sha256=${digest}`)) as Record<string, unknown>
  } catch (err) {
    throw new DeadLetterError('DLQ_TRANSFORM', `dlq: ${op}(): transform module ${file} threw while loading: ${describeReason(err).text}`, { cause: err })
  }
  const fn = typeof mod.default === 'function' ? mod.default : mod.transform
  if (typeof fn !== 'function') {
    throw new DeadLetterError('DLQ_TRANSFORM', `dlq: ${op}(): transform module ${file} exports no function (export default (payload, entry) => newPayload, or a function named transform)`)
  }
  return { fn: fn as Transform, source: { path: file, sha256: digest } }
}

/** What a transform made of one entry. */
export type EditOutcome =
  | { kind: 'changed'; text: string; before: unknown; after: unknown; patch: JsonPatchOp[]; undo: JsonPatchOp[] }
  | { kind: 'untouched' }
  | { kind: 'failed'; reason: string }

/** Apply the transform to one entry; `payloadText` is the payload as stored. Never throws. */
export function applyTransform(t: LoadedTransform, payloadText: string, entry: Entry): EditOutcome {
  let result: unknown
  try {
    result = t.fn(entry.payload, entry)
  } catch (err) {
    return { kind: 'failed', reason: `the transform threw: ${describeReason(err).text}` }
  }
  if (result === undefined) return { kind: 'untouched' }
  if (result !== null && typeof (result as { then?: unknown }).then === 'function') {
    return { kind: 'failed', reason: 'the transform returned a Promise (a transform is synchronous)' }
  }
  let text: string | undefined
  try {
    text = JSON.stringify(result)
  } catch (err) {
    return { kind: 'failed', reason: `the new payload cannot be stored as JSON: ${describeReason(err).text}` }
  }
  if (text === undefined) return { kind: 'failed', reason: `the new payload cannot be stored as JSON: it is a ${typeof result}` }
  // Both sides as stored, so the patch turns the stored payload into the stored payload.
  const before = JSON.parse(payloadText) as unknown
  const after = JSON.parse(text) as unknown
  return { kind: 'changed', text, before, after, patch: jsonPatch(before, after), undo: jsonPatch(after, before) }
}

/** RFC 6902 operations that turn `before` into `after`. */
export function jsonPatch(before: unknown, after: unknown): JsonPatchOp[] {
  const containers = typeof before === 'object' && before !== null && typeof after === 'object' && after !== null && Array.isArray(before) === Array.isArray(after)
  // fast-json-patch compares containers; a changed scalar or type at the top is one replace.
  if (containers) return jsonpatch.compare(before as object, after as object) as JsonPatchOp[]
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ op: 'replace', path: '', value: after }]
}

/** The counts of a transform run, filled in as entries are settled. */
export class TransformTally {
  readonly summary: TransformSummary
  private readonly groups = new Map<string, { count: number; example: EntryLocation }>()

  constructor(source: TransformSummary['source']) {
    this.summary = { source, changed: 0, untouched: 0, failed: 0, failures: [], preview: [] }
  }

  add(outcome: EditOutcome, location: EntryLocation, id: string | undefined, preview: boolean): void {
    const s = this.summary
    if (outcome.kind === 'untouched') s.untouched++
    else if (outcome.kind === 'failed') {
      s.failed++
      const g = this.groups.get(outcome.reason)
      if (g) g.count++
      else this.groups.set(outcome.reason, { count: 1, example: location })
    } else {
      s.changed++
      if (preview && s.preview.length < PREVIEW_ENTRIES) {
        s.preview.push({ ...(id === undefined ? {} : { id }), location, before: outcome.before, after: outcome.after, patch: outcome.patch })
      }
    }
  }

  done(): TransformSummary {
    this.summary.failures = [...this.groups]
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, FAILURE_GROUPS)
      .map(([reason, g]) => ({ reason, count: g.count, example: g.example }))
    return this.summary
  }
}


export const AUDIT_LIMIT = 100
export const readAuditChecks = { limit: int(1) }

/** Who, why, what: the part every record of one run shares. */
export type AuditRun = Pick<AuditRecord, 'run' | 'op' | 'actor' | 'why' | 'filter' | 'transform'>

export function auditRun(op: AuditRecord['op'], o: { actor?: string; why?: string }, filter: string, transform: LoadedTransform | undefined): AuditRun {
  return { run: randomUUID(), op, actor: o.actor ?? defaultActor(), why: o.why ?? null, filter, transform: transform?.source ?? null }
}

export function defaultActor(): string {
  let user: string | undefined
  try {
    user = os.userInfo().username
  } catch {
    // No passwd entry for this uid (some containers): the environment may still say.
  }
  return `${user || process.env.USER || 'unknown'}@${os.hostname()}`
}

export function auditRecord(run: AuditRun, at: number, id: string | undefined, location: EntryLocation, beforeText: string, edit?: { text: string; patch: JsonPatchOp[]; undo: JsonPatchOp[] }): AuditRecord {
  const r: AuditRecord = { v: 1, at, ...run, ...(id === undefined ? {} : { id }), location, before: sha256(beforeText) }
  if (edit) {
    r.after = sha256(edit.text)
    r.patch = edit.patch
    r.undo = edit.undo
  }
  return r
}

/** The options of who/why/what every changing operation takes (checked with base/checks.ts). */
export const auditChecks = { why: str, actor: str }
export const editChecks = { ...auditChecks, transform: transformCheck }

function transformCheck(name: string, v: unknown): Transform | string {
  if (typeof v === 'function' || (typeof v === 'string' && v.trim() !== '')) return v as Transform | string
  throw invalidOption(name, 'a function (payload, entry) => newPayload, or the path of a module exporting one', v)
}

/** A transform needs a reason: the audit trail must say why the data was changed. */
export function requireWhy(op: string, o: { transform?: unknown; why?: string }): void {
  if (o.transform !== undefined && o.why === undefined) {
    throw new DeadLetterError('DLQ_INVALID_OPTION', `dlq: ${op}(): option \`transform\` needs \`why\`: the audit trail records why the data was changed`)
  }
}

/** A patch as diff lines: `- path: old` / `+ path: new` (values as JSON, cut at 200 characters). */
export function patchLines(before: unknown, patch: JsonPatchOp[]): string[] {
  const show = (v: unknown) => {
    const s = JSON.stringify(v) ?? 'undefined'
    return s.length > 200 ? `${s.slice(0, 200)}…` : s
  }
  const old = (p: string) => {
    try {
      return show(jsonpatch.getValueByPointer(before, p))
    } catch {
      return '?'
    }
  }
  const out: string[] = []
  for (const op of patch) {
    const where = op.path === '' ? '(the whole payload)' : op.path
    if (op.op === 'replace' || op.op === 'remove') out.push(`- ${where}: ${old(op.path)}`)
    if (op.op === 'replace' || op.op === 'add') out.push(`+ ${where}: ${show(op.value)}`)
    if (op.op === 'move' || op.op === 'copy') out.push(`~ ${op.op} ${op.from} → ${where}`)
  }
  return out
}
