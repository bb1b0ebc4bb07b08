/**
 * The flags of repair before redrive and of the audit trail (`--transform`, `--why`,
 * `--actor`) and how a requeue's transform summary and dry-run changes are printed.
 */
import { type Command, Option } from 'commander'
import { transformText as changeTransformText } from '../format/change-text.js'
import type { AuditSummary, TransformSummary } from '../format/model.js'
import { given } from './common.js'
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
  return given(flags, ['transform', 'why', 'actor'])
}

/** The transform's counts, its failures, and (dry run) the first changes as diffs, safe for a terminal. */
export function transformText(t: TransformSummary, dryRun: boolean): string {
  return changeTransformText(t, dryRun, terminalSafe)
}

export function auditLine(a: AuditSummary): string {
  return `  audit: ${a.records} record(s) in ${terminalSafe(a.where)}\n`
}
