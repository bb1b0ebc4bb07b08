/**
 * `dletter purge <log> --permanent|--corrupt --yes`: delete entries for good (e.g. older than
 * a retention period); the work is src/admin/purge.ts. Same discipline as requeue: the replay lock, a journaled
 * rewrite-then-delete of each permanent segment, an atomic rename for the corrupt log.
 * Kept entries are never at risk; an interrupted purge is finished or rolled back by the
 * next replay, requeue or purge command.
 */
import { type Command, Option } from 'commander'
import { resolveFilter } from '../admin/filters.js'
import { purge } from '../admin/purge.js'
import type { LocalChangeBackend } from '../format/model.js'
import { type CommonFlags, action, addCommonOptions, resolveLog, runRewrite } from './common.js'
import { type DbFlags, addDbOptions, centralTarget, dbPurge } from './db.js'
import { addFilterOptions, filterFlags, maxRecordSizeOption, usageCheckCorrupt } from './filters.js'
import { type AuditFlags, addAuditOptions, auditLine, auditOptions } from './audit-flags.js'
import { EXIT, EXIT_CODES_HELP, guardStdoutPipe, note, terminalSafe, usageError, warn } from './output.js'

interface PurgeFlags extends CommonFlags, AuditFlags {
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
  guardStdoutPipe()
  if (!flags.permanent && !flags.corrupt) throw usageError('purge needs --permanent or --corrupt (the retry log is never purged)')
  const target = flags.permanent ? 'permanent' : 'corrupt'
  const filters = filterFlags(flags as Record<string, unknown>)
  if (target === 'corrupt') usageCheckCorrupt(filters)
  const db = centralTarget(logArg, flags)
  if (db !== undefined) return dbPurge(db, filters, flags)
  if (!flags.yes && !flags.dryRun) {
    const described = resolveFilter(filters, target, Date.now())
    const what = described.narrows ? `the ${target}-log entries matching ${described.text}` : `every entry of the ${target} log`
    throw usageError(`refusing to purge without --yes: this deletes ${what} for good (use --dry-run to see how many)`)
  }
  const log = await resolveLog(logArg!, { quiet: flags.json })
  const options = { ...filters, ...auditOptions(flags), kind: target, maxRecordSize: flags.maxRecordSize } as const
  const summary = flags.dryRun
    ? await purge(log.paths.active, { ...options, dryRun: true })
    : await runRewrite('purge', !flags.json && flags.progress !== false, (signal, progress) =>
        purge(log.paths.active, { ...options, signal, onProgress: (p) => progress.update({ ...p, total: p.total ?? p.done }) }),
      )
  if (flags.json) {
    process.stdout.write(JSON.stringify(summary) + '\n')
    return EXIT.OK
  }
  const s = summary
  const b = s.backend as LocalChangeBackend
  if (b.recovered) note(b.recovered)
  for (const w of s.warnings) warn(w)
  const n = (k: number) => `${k} entr${k === 1 ? 'y' : 'ies'}`
  if (s.dryRun) {
    process.stdout.write(`dry run: would remove ${n(s.count)} (${terminalSafe(s.filter)}) from the ${target} log; ${b.kept} would stay. Nothing was changed.\n`)
  } else {
    process.stdout.write(
      `removed ${n(s.count)} (${terminalSafe(s.filter)}) from the ${target} log; ${b.kept} kept` +
        `${target === 'permanent' ? `, ${b.rewritten} of ${b.segments} segment(s) rewritten` : ''}` +
        `${s.stopped === 'abort' ? ' (aborted)' : s.stopped === 'limit' ? ' (stopped at --limit)' : ''}\n`,
    )
    if (s.audit) process.stdout.write(auditLine(s.audit))
  }
  return EXIT.OK
}
