/** The flags of repair before redrive and of the audit trail: `--transform`, `--why`, `--actor`. */
import { type Command, Option } from 'commander'

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
