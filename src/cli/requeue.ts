/**
 * `dletter requeue <log>`: move permanent-log entries back to the retry log, e.g. after the
 * bug that made them fail is fixed (the work is src/admin/requeue.ts; crash-safe through the
 * journaled rewrite in src/store/rewrite-permanent.ts):
 * an entry is never in neither log and, once a run (or the next one) completes, in exactly
 * one. Holds the replay lock, so it never runs alongside a replay of the same log.
 */
import { type Command, Option } from 'commander'
import type { RequeueOptions } from '../index.js'
import { runChange } from './backend.js'
import { type AuditFlags, addAuditOptions } from './audit-flags.js'
import { type CommonFlags, action, addCommonOptions, given } from './common.js'
import { type DbFlags, addDbOptions } from './db.js'
import { type FilterFlags, addFilterOptions, filterFlags, maxRecordSizeOption, parseIntArg } from './filters.js'
import { EXIT_CODES_HELP, shellArg } from './output.js'

type RequeueFlags = CommonFlags & AuditFlags & FilterFlags & Pick<RequeueOptions, 'resetAttempts' | 'maxRedrives' | 'force' | 'dryRun'> & { transform?: string; maxRecordSize?: string }

export function registerRequeue(program: Command): void {
  const cmd = program
    .command('requeue')
    .summary('move permanent-log entries back to the retry log')
    .description(
      'Move entries of the permanent log that match the filters (all of them without filters) back to the retry log, so the next replay gives them to the handler again. Takes the replay lock (exit 2 while a replay runs) and asks a live writer to seal its active permanent file. Crash-safe: an interrupted run is rolled back or finished by the next replay, requeue or purge command, so no entry is ever lost or left in both logs.\n\nWithout --reset-attempts entries keep their attempt count: those that used up their attempts go straight back to the permanent log on the next replay unless it runs with a higher --max-attempts. Items that expired by --ttl expire again unless replay runs with a longer --ttl (the first-failure time is kept).',
    )
    .argument('[log]', 'path of the log file, as given to Logger.open (or --db for the central store)')
  addFilterOptions(cmd, 'move at most this many entries')
  cmd
    .addOption(new Option('--reset-attempts', 'start moved entries over: attempt 1, no due time, no `final` mark'))
    .addOption(new Option('--max-redrives <n>', 'loop guard: leave entries already requeued n times where they are (default 3)').argParser(parseIntArg(0)).conflicts('force'))
    .addOption(new Option('--force', 'move entries at the --max-redrives limit too (each still counts one more redrive)'))
    .addOption(new Option('--dry-run', 'only count what would move; change nothing (see the entries with `inspect --permanent` and the same filters)'))
    .addOption(maxRecordSizeOption())
  addAuditOptions(cmd, true)
  addCommonOptions(cmd, { json: 'print the summary as one JSON object on stdout', progress: true })
  addDbOptions(cmd, { rate: true })
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter requeue ./dlq/orders.log --reason 'ECONNREFUSED' --reset-attempts
  $ dletter requeue ./dlq/orders.log --since 2025-11-20 --dry-run
  $ dletter requeue ./dlq/orders.log --id ord-42 --reset-attempts && dletter replay ./dlq/orders.log --handler ./handler.js
  $ dletter requeue ./dlq/orders.log --reason 'amount' --transform ./fix-amount.mjs --why 'amounts sent as strings' --dry-run

${EXIT_CODES_HELP}`,
  )
  cmd.action(action((log: string | undefined, flags: RequeueFlags & DbFlags) => run(log, flags)))
}

async function run(logArg: string | undefined, flags: RequeueFlags & DbFlags): Promise<number> {
  const filters = filterFlags(flags)
  const o = { ...filters, ...given(flags, ['maxRedrives', 'force', 'transform', 'why', 'actor']), dryRun: flags.dryRun === true, resetAttempts: flags.resetAttempts === true }
  return runChange('requeue', logArg, flags, (b, run) => b.requeue({ ...o, ...run }), (r, b) => {
    if (r.dryRun) return b.arg !== undefined ? [`  list them: dletter inspect ${shellArg(b.arg)} --permanent${filterArgs(flags)}`] : []
    return r.count > 0 && !r.resetAttempts
      ? ['  note: without --reset-attempts, entries that used all their attempts go back to the permanent log', '  on the next replay unless it runs with a higher --max-attempts']
      : []
  })
}

function filterArgs(flags: FilterFlags): string {
  const out: string[] = []
  if (flags.reason instanceof RegExp) out.push(`--reason ${shellArg(flags.reason.source)}`)
  for (const id of [flags.id ?? []].flat()) out.push(`--id ${shellArg(id)}`)
  if (flags.since !== undefined) out.push(`--since ${shellArg(String(flags.since))}`)
  if (flags.olderThan !== undefined) out.push(`--older-than ${shellArg(String(flags.olderThan))}`)
  return out.length > 0 ? ' ' + out.join(' ') : ''
}
