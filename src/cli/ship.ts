/**
 * `dletter ship <log> --db <url>`: forward a local log's retry, permanent and corrupt
 * entries into the central PostgreSQL store, deleting each local file once its rows are
 * committed. Same locks as `replay`: run it from cron instead of (not next to) a local replay.
 */
import { type Command, Option } from 'commander'
import type { ShipOptions } from '../postgres/index.js'
import { type CommonFlags, action, addCommonOptions, given, resolveLog } from './common.js'
import { dbUrlFor, withStore } from './db.js'
import { parseIntArg, parseRecordSizeArg, parseTimerArg } from './filters.js'
import { EXIT, EXIT_CODES_HELP, formatDuration } from './output.js'

type ShipFlags = CommonFlags & Pick<ShipOptions, 'sealTimeout' | 'batchSize' | 'maxRecordSize' | 'logName'> & { db?: string; host?: string }

export function registerShip(program: Command): void {
  const cmd = program
    .command('ship')
    .summary('forward a log into the central PostgreSQL store (many hosts)')
    .description(
      'Forward every retry, permanent and corrupt entry of a local log into the central PostgreSQL store, then delete each local file once the database has committed its rows. Asks a live writer to seal first, so everything logged before the call is shipped. Safe to interrupt or kill: shipping again inserts nothing twice. Takes the replay lock: do not run a local replay of the same log at the same time.',
    )
    .argument('<log>', 'path of the log file, as given to Logger.open')
    .addOption(new Option('--db <url>', 'PostgreSQL connection string (default: $DLETTER_DB)'))
    .addOption(new Option('--host <name>', 'this host\'s name in the database (default: the machine\'s hostname)'))
    .addOption(new Option('--log-name <name>', 'the log\'s name in the database (default: its real path, symlinks resolved)'))
    .addOption(new Option('--seal-timeout <duration>', 'how long to wait for a live writer to seal its active files (default: 5s)').argParser(parseTimerArg))
    .addOption(new Option('--batch-size <n>', 'rows per INSERT (default: 2000)').argParser(parseIntArg(1)))
    .addOption(new Option('--max-record-size <size>', 'longest line shipped as an entry; longer ones stay on this host whole and ship as a corrupt row (default: 16 MiB)').argParser(parseRecordSizeArg))
  addCommonOptions(cmd, { json: 'print the result as one JSON object on stdout' })
  cmd.addHelpText(
    'after',
    `
Examples:
  $ DLETTER_DB=postgres://dlq@db.internal/ops dletter ship /var/lib/app/dlq/orders.log
  # crontab on every host: every minute
  * * * * * dletter ship /var/lib/app/dlq/orders.log --json >> /var/log/dlq-ship.jsonl

The connection string is never printed (only host, port and database are named in errors).

${EXIT_CODES_HELP}`,
  )
  cmd.action(action(run))
}

async function run(logArg: string, flags: ShipFlags): Promise<number> {
  const url = dbUrlFor(flags.db)
  const log = await resolveLog(logArg)
  const r = await withStore(url, flags.host, (store) => store.ship(log, given(flags, ['sealTimeout', 'batchSize', 'maxRecordSize', 'logName'])))
  if (flags.json) {
    process.stdout.write(JSON.stringify({ log: log, ...r }) + '\n')
    return EXIT.OK
  }
  const row = (label: string, n: number, what: string) => `  ${label.padEnd(11)}${String(n).padStart(8)}  ${what}\n`
  process.stdout.write(
    `ship of ${log}${r.stopped ? ' (interrupted)' : ''} in ${formatDuration(r.durationMs)}\n` +
      row('shipped', r.shipped, 'new rows committed') +
      row('duplicates', r.duplicates, 'already in the database (an earlier ship was interrupted)') +
      row('retry', r.retry, 'retry entries read') +
      row('permanent', r.permanent, 'permanent entries read') +
      row('corrupt', r.corrupt, 'corrupt lines or quarantine records read') +
      (r.refused > 0 ? row('refused', r.refused, 'of them: entries the database refused, kept as corrupt rows with its message') : '') +
      `  local files removed: ${r.files}; active files sealed by: ${r.sealedBy === 'timeout' ? 'nobody (the writer did not answer in time)' : r.sealedBy === 'self' ? 'this command (no writer alive)' : 'the live writer'}\n`,
  )
  return EXIT.OK
}
