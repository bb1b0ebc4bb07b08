/**
 * `readAudit(log, ref)`: the audit records that name one entry (src/admin/audit.ts writes
 * them to `<log>.audit.jsonl`): those of changes to the entry itself (where it is or was,
 * `location`), and, for a repaired entry, the one that made it (its original's location,
 * `editOf`). A read-only stream over the audit log: memory is the last `limit` matches,
 * whatever the file's size.
 */
import path from 'node:path'
import { checkOptions } from '../base/checks.js'
import { ioError } from '../base/errors.js'
import { scanFiles } from '../store/scan.js'
import { AUDIT_LIMIT, type AuditRecord, type ReadAuditOptions, readAuditChecks } from '../format/edit.js'
import type { LocalOptions } from '../format/model.js'
import { resolveLogPath } from '../store/log-path.js'
import { auditFileOf } from './audit.js'
import { common, commonChecks } from './options.js'
import { parseRef, readEntry } from './read-entry.js'

const checks = { ...readAuditChecks, maxRecordSize: commonChecks.maxRecordSize }

/** An audit record's location names a permanent segment without `.gz` (the rewrite reads it so); a listing's ref may have it. */
function locationRef(ref: string): string {
  const { kind, name, offset } = parseRef(ref)
  return `${kind}/${name.replace(/\.gz$/, '')}/${offset}`
}

export async function readAudit(logPath: string, ref: string, options?: ReadAuditOptions & Pick<LocalOptions, 'maxRecordSize'>): Promise<AuditRecord[]> {
  const o = checkOptions('readAudit', options, checks)
  const { maxRecordSize } = common(o)
  const limit = o.limit ?? AUDIT_LIMIT
  const own = locationRef(ref)
  const paths = await resolveLogPath('readAudit', logPath)
  const entry = await readEntry(logPath, ref, { maxRecordSize })
  const refs = new Set([own])
  if (entry?.editOf) refs.add(entry.editOf.location.ref)
  // The cheap test before a parse: the ref as the record's JSON spells it.
  const needles = [...refs].map((r) => `"ref":${JSON.stringify(r)}`)
  const file = path.join(paths.dir, auditFileOf(paths))
  const out: AuditRecord[] = []
  const res = await scanFiles([{ path: file, gz: false, size: 0, active: true, start: 0, mtimeMs: 0 }], {
    // A record holds the payload's patch and undo (each at most a record) and some words.
    maxRecordSize: 3 * maxRecordSize + 64 * 1024,
    envelopes: false,
    onItem: (it) => {
      if (it.kind !== 'line' || !needles.some((n) => it.line.includes(n))) return
      let rec: AuditRecord
      try {
        rec = JSON.parse(it.line) as AuditRecord
      } catch {
        return
      }
      if (!refs.has(rec.location?.ref)) return
      out.push(rec)
      if (out.length > limit) out.shift()
    },
  })
  if (res.errors.length > 0) throw ioError(`read ${file}`, new Error(res.errors[0].error))
  return out
}
