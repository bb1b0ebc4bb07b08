/**
 * `dletter purge <log> --permanent|--corrupt --yes`: delete entries for good (e.g. older than
 * a retention period); the work is src/admin/purge.ts. Same discipline as requeue: the replay lock, a journaled
 * rewrite-then-delete of each permanent segment, an atomic rename for the corrupt log.
 * Kept entries are never at risk; an interrupted purge is finished or rolled back by the
 * next replay, requeue or purge command.
 */
import { type Command, Option } from 'commander'
import { normalizeFilter } from '../format/filter.js'
import { runChange } from './backend.js'
import { type AuditFlags, addAuditOptions } from './audit-flags.js'
import { type CommonFlags, action, addCommonOptions, given } from './common.js'
import { type DbFlags, addDbOptions } from './db.js'
import { type FilterFlags, addFilterOptions, filterFlags, maxRecordSizeOption, usageCheckCorrupt } from './filters.js'
import { EXIT_CODES_HELP, usageError } from './output.js'

interface PurgeFlags extends CommonFlags, AuditFlags, FilterFlags {
  permanent?: boolean
  corrupt?: boolean
  yes?: boolean
  dryRun?: boolean
  maxRecordSize?: string
}

export function registerPurge(program: Command): void {
  const cmd = program
    .command('purge')
    .summary('delete entries of the permanent log or the corrupt quarantine for good')
    .description(
      'Delete the entries of the permanent log (--permanent) or of the corrupt quarantine (--corrupt) that match the filters, all of them without filters. Refuses to run without --yes. Takes the replay lock (exit 2 while a replay runs). The retry log is never purged: its items leave through replay (or expire with replay --ttl).',
    )
    .argument('[log]', 'path of the log file, as given to Logger.open (or --db for the central store)')
    .addOption(new Option('--permanent', 'purge the permanent log').conflicts('corrupt'))
    .addOption(new Option('--corrupt', 'purge the corrupt quarantine (--reason matches the parse error)'))
  addFilterOptions(cmd, 'remove at most this many entries')
  cmd
    .addOption(new Option('--yes', 'confirm: matching entries are deleted and cannot be recovered'))
    .addOption(new Option('--dry-run', 'only count what would be removed; change nothing (no --yes needed)'))
    .addOption(maxRecordSizeOption())
  addAuditOptions(cmd, false)
  addCommonOptions(cmd, { json: 'print the summary as one JSON object on stdout', progress: true })
  addDbOptions(cmd, { rate: true })
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter purge ./dlq/orders.log --permanent --older-than 30d --dry-run
  $ dletter purge ./dlq/orders.log --permanent --older-than 30d --yes
  $ dletter purge ./dlq/orders.log --permanent --reason '^invalid order' --yes
  $ dletter purge ./dlq/orders.log --corrupt --yes

${EXIT_CODES_HELP}`,
  )
  cmd.action(action((log: string | undefined, flags: PurgeFlags & DbFlags) => run(log, flags)))
}

async function run(logArg: string | undefined, flags: PurgeFlags & DbFlags): Promise<number> {
  if (!flags.permanent && !flags.corrupt) throw usageError('purge needs --permanent or --corrupt (the retry log is never purged)')
  const kind = flags.permanent ? 'permanent' : 'corrupt'
  const filters = filterFlags(flags)
  if (kind === 'corrupt') usageCheckCorrupt(filters)
  if (!flags.yes && !flags.dryRun) {
    const described = normalizeFilter(filters, kind, Date.now())
    const what = described.narrows ? `the ${kind}-log entries matching ${described.text}` : `every entry of the ${kind} log`
    throw usageError(`refusing to purge without --yes: this deletes ${what} for good (use --dry-run to see how many)`)
  }
  return runChange('purge', logArg, flags, (b, run) => b.purge({ ...filters, kind, dryRun: flags.dryRun === true, ...given(flags, ['why', 'actor']), ...run }))
}
