/**
 * The flags of repair before redrive and of the audit trail (`--transform`, `--why`,
 * `--actor`) and how a requeue's transform summary and dry-run changes are printed.
 */
import { type Command, Option } from 'commander'
import { patchLines } from '../format/edit.js'
import type { AuditSummary, TransformSummary } from '../format/model.js'
import { terminalSafe } from './output.js'

export interface AuditFlags {
  why?: string
  actor?: string
}

export function addAuditOptions(cmd: Command, transform: boolean): void {
  if (transform) {
    cmd.addOption(
      new Option('--transform <module>', 'repair before redrive: a module whose default export (payload, entry) returns the new payload (undefined: leave the entry; throw: keep it); needs --why'),
    )
  }
  cmd
    .addOption(new Option('--why <text>', 'why: written to the audit trail (required with --transform)'))
    .addOption(new Option('--actor <name>', 'who: written to the audit trail (default: user@host)'))
}

export function auditOptions(flags: AuditFlags & { transform?: string }): { why?: string; actor?: string; transform?: string } {
  return {
    ...(flags.transform !== undefined ? { transform: flags.transform } : {}),
    ...(flags.why !== undefined ? { why: flags.why } : {}),
    ...(flags.actor !== undefined ? { actor: flags.actor } : {}),
  }
}

/** The transform's counts, its failures, and (dry run) the first changes as diffs. */
export function transformText(t: TransformSummary, dryRun: boolean): string {
  const verb = dryRun ? 'would repair' : 'repaired'
  const out = [
    `transform ${terminalSafe(t.source.path ?? t.source.name ?? '?')} (sha256 ${t.source.sha256.slice(0, 12)}…): ${verb} ${t.changed}, ` +
      `${t.untouched} left as they were (returned undefined), ${t.failed} kept because the transform failed on them`,
  ]
  for (const f of t.failures) out.push(`  ${String(f.count).padStart(8)}  ${terminalSafe(f.reason)}  (e.g. ${f.example.ref})`)
  for (const p of t.preview) {
    out.push(`--- ${p.location.ref}${p.id !== undefined ? ` (id ${terminalSafe(p.id)})` : ''}`)
    for (const l of patchLines(p.before, p.patch)) out.push(`  ${terminalSafe(l)}`)
  }
  if (dryRun && t.changed > t.preview.length) out.push(`(first ${t.preview.length} of ${t.changed} changes shown)`)
  return out.join('\n') + '\n'
}

export function auditLine(a: AuditSummary): string {
  return `  audit: ${a.records} record(s) in ${terminalSafe(a.where)}\n`
}
