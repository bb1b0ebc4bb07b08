/**
 * `dletter replay <log> --handler <module>`: the cron entry point. Runs the same engine as
 * `replay()` (replay lock, seal request to a live writer, per-segment checkpoints) and maps
 * SIGINT/SIGTERM to its AbortSignal so an interrupted run checkpoints and exits 0.
 * stdout carries the summary alone: the handler's own writes to it are sent to stderr.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Command, Option } from 'commander'
import { replayDefaults } from '../base/options.js'
import { type Handler, type OutcomeEvent, type ReplayOptions, type ReplaySummary, replay } from '../index.js'
import { type CommonFlags, abortOnSignals, action, addCommonOptions, given, resolveLog } from './common.js'
import { redactUrl } from '../base/redact.js'
import { type DbFlags, addDbOptions, centralTarget, withStore } from './db.js'
import { parseDurationArg, parseIntArg, parseRecordSizeArg, parseTimerArg } from './filters.js'
import {
  CliError,
  EXIT,
  EXIT_CODES_HELP,
  divertStdout,
  flagName,
  formatBytes,
  formatDuration,
  note,
  stdoutWrite,
  terminalSafe,
  usageError,
  warn,
} from './output.js'
import { Progress } from './progress.js'
import { flushTraces } from '../base/trace.js'

/** The replay flags the central store takes too; the local-only ones (checkpoints, sealing, in-place retries) have no central meaning. */
const SHARED = ['maxAttempts', 'initialWait', 'maxWait', 'concurrency', 'ttl', 'limit', 'handlerTimeout', 'trace', 'traceParent'] as const
const LOCAL_ONLY = ['retries', 'retryDelay', 'checkpointEvery', 'checkpointInterval', 'sealTimeout', 'maxRecordSize', 'dryRun'] as const

type ReplayFlags = CommonFlags & DbFlags & Pick<ReplayOptions, (typeof SHARED)[number] | (typeof LOCAL_ONLY)[number]> & { handler?: string }

const d = replayDefaults

export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay')
    .summary('feed due items of the retry log to a handler (the cron job)')
    .description(
      'Feed every due item of the retry log to a handler, oldest first. Items that fail again are re-logged with attempt+1 and a backoff due time; items out of attempts (or failing with PermanentError) move to the permanent log; unparseable lines go to the corrupt quarantine. Safe next to a live writer (it is asked to seal its active segment) and resumable: a killed run continues from the last checkpoint. Only one replay per log runs at a time.',
    )
    .argument('[log]', 'path of the log file, as given to Logger.open (e.g. /var/lib/app/dlq/orders.log); or --db for the central store')
    .option('--handler <module>', 'module whose default export (or export named `handler`) is (payload, envelope) => Promise<void>; path relative to the current directory. Required, except with --dry-run, which never loads it (given anyway, it is ignored)')
    .addOption(new Option('--max-attempts <n>', `total attempts including the original failure (default: ${d.maxAttempts})`).argParser(parseIntArg(1)))
    .addOption(new Option('--initial-wait <duration>', `first backoff before a failed item is due again (default: ${formatDuration(d.initialWait)})`).argParser(parseDurationArg))
    .addOption(new Option('--max-wait <duration>', `backoff cap (default: ${formatDuration(d.maxWait)}, or --initial-wait when that is longer)`).argParser(parseDurationArg))
    .addOption(new Option('--retries <n>', `extra in-place retries of a failing handler call within this run (default: ${d.retries})`).argParser(parseIntArg(0)))
    .addOption(new Option('--concurrency <n>', `handler calls in flight (default: ${d.concurrency})`).argParser(parseIntArg(1)))
    .addOption(new Option('--ttl <duration>', 'items that first failed longer ago than this move to the permanent log as expired (default: no limit)').argParser(parseDurationArg))
    .addOption(new Option('--limit <n>', 'stop after this many items (the rest waits for the next run)').argParser(parseIntArg(1)))
    .addOption(new Option('--retry-delay <duration>', `first in-place retry delay, doubling per retry (default: ${formatDuration(d.retryDelay)})`).argParser(parseTimerArg))
    .addOption(new Option('--checkpoint-every <n>', `checkpoint at least every n items: a crash redoes at most n + concurrency - 1 items (default: ${d.checkpointEvery})`).argParser(parseIntArg(1)))
    .addOption(new Option('--checkpoint-interval <duration>', `and at least this often (default: ${formatDuration(d.checkpointInterval)})`).argParser(parseTimerArg))
    .addOption(new Option('--seal-timeout <duration>', `how long to wait for a live writer to seal its active segment (default: ${formatDuration(d.sealTimeout)})`).argParser(parseTimerArg))
    .addOption(new Option('--max-record-size <size>', `longest line read; set it to the writer's maxRecordSize if you raised that. Longer lines are quarantined whole (default: ${formatBytes(d.maxRecordSize)})`).argParser(parseRecordSizeArg))
    .addOption(new Option('--handler-timeout <duration>', 'a handler call not settled after this long counts as failed and is re-logged (default: no limit)').argParser(parseTimerArg))
    .addOption(new Option('--dry-run', 'read and report what would happen; call nothing, change nothing, load no handler'))
    .addOption(new Option('--no-trace', 'no OpenTelemetry process spans, even when the handler module registered an SDK'))
    .addOption(new Option('--trace-parent <mode>', "a process span links to the trace log() recorded ('link'), or continues it ('child') (default: link)").choices(['link', 'child']))
  addCommonOptions(cmd, { json: 'print the summary as one JSON object on stdout (and nothing else there)', progress: true })
  addDbOptions(cmd)
  cmd.addHelpText(
    'after',
    `
Durations: 500ms, 30s, 15m, 72h, 30d. Progress goes to stderr: a bar on a terminal, otherwise a
line every DLETTER_PROGRESS_INTERVAL (default 2s). What the handler prints with console.log or
process.stdout.write goes to stderr too: stdout holds the summary alone.
SIGINT/SIGTERM stop taking new items, let the in-flight ones finish, write a checkpoint and
exit 0 (summary: aborted: true); a second signal exits at once with 130 (still safe: the next
run redoes at most the items after the last checkpoint).
A run lasts until every handler call has settled: give --handler-timeout to a cron job whose
handler could hang (a timed-out item is re-logged like a failed one).

Examples:
  $ dletter replay /var/lib/app/dlq/orders.log --handler ./dlq-handler.js
  $ dletter replay ./dlq/orders.log --handler ./handler.js --max-attempts 8 --max-wait 1h --concurrency 4
  $ dletter replay ./dlq/orders.log --handler ./handler.js --ttl 72h --json >> replay.jsonl
  $ dletter replay ./dlq/orders.log --dry-run
  # crontab: every 5 minutes
  */5 * * * * cd /srv/app && npx dletter replay /var/lib/app/dlq/orders.log --handler ./dlq-handler.js --json >> /var/log/dlq-replay.jsonl

A TypeScript handler needs a loader: node --import tsx node_modules/dletter/dist/cli/main.js replay …
Tracing: a handler module that sets up the OpenTelemetry SDK at its top level gets one process
span per handler call, linked to the trace of the failure (docs/tracing.md).

${EXIT_CODES_HELP}`,
  )
  cmd.action(action(run))
}

async function run(logArg: string | undefined, flags: ReplayFlags): Promise<number> {
  // Before the handler module is imported: its top-level code may print as well.
  divertStdout()
  // A dry run calls nothing, so it needs no handler and never runs the module's code.
  if (!flags.dryRun && !flags.handler) throw usageError("required option '--handler <module>' not specified (only --dry-run runs without a handler)")
  const spec = flags.dryRun ? undefined : flags.handler
  const db = centralTarget(logArg, flags)
  if (db !== undefined) {
    await replayCentral(db, spec === undefined ? neverCalled : await loadHandler(spec), flags)
  } else {
    const log = await resolveLog(logArg!)
    const unfinished = guardUnfinishedRun()
    try {
      const handler = spec === undefined ? neverCalled : await loadHandler(spec)
      await replayOnce(log, handler, flags)
    } finally {
      unfinished.dispose()
    }
  }
  // The process exits next: the spans the handler module's SDK still queues must go out first.
  await flushTraces()
  return EXIT.OK
}

async function replayOnce(file: string, handler: Handler, flags: ReplayFlags): Promise<void> {
  const stop = abortOnSignals((sig) => note(`${sig} received: finishing in-flight items and writing a checkpoint (send it again to exit at once)`))
  const progress = new Progress(flags.dryRun ? 'replay (dry run)' : 'replay', !flags.json && flags.progress !== false)
  const verbose = flags.verbose === true && !flags.json
  let summary: ReplaySummary
  try {
    summary = await replay(file, handler, {
      ...given(flags, [...SHARED, ...LOCAL_ONLY]),
      dryRun: flags.dryRun === true,
      signal: stop.signal,
      onProgress: (p) => progress.update(p),
      onOutcome: verbose ? printOutcome : undefined,
    })
  } finally {
    progress.stop()
    stop.dispose()
  }
  if (flags.json) stdoutWrite(JSON.stringify(summary) + '\n')
  else {
    if (summary.recovered) note(summary.recovered)
    for (const w of summary.warnings) warn(w)
    stdoutWrite(formatSummary(file, summary))
  }
  if (summary.stopped === 'abort') {
    note(`replay stopped early by ${stop.received() ?? 'a signal'}; a checkpoint was written, the next run continues from it`)
  }
}

async function replayCentral(url: string, handler: Handler, flags: ReplayFlags): Promise<void> {
  for (const k of LOCAL_ONLY) {
    if (flags[k] !== undefined && flags[k] !== false) throw usageError(`${flagName(k)} applies to a local log, not to --db`)
  }
  const stop = abortOnSignals(() => process.stderr.write('dletter: stopping: claimed entries in flight finish, the rest is given back\n'))
  try {
    const s = await withStore(url, undefined, (store) => store.replay(handler as never, { ...given(flags, [...SHARED, 'host']), signal: stop.signal }))
    if (flags.json) stdoutWrite(JSON.stringify(s) + '\n')
    else {
      stdoutWrite(
        `replay of the central store ${redactUrl(url)}${stoppedText(s.stopped)}\n` +
          `  ${s.handled} entries in ${formatDuration(s.durationMs)}\n` +
          row('delivered', s.delivered, 'handler succeeded') +
          row('requeued', s.requeued, 'failed again; attempt+1 and a backoff due time') +
          row('permanent', s.permanent, 'out of attempts or PermanentError') +
          row('expired', s.expired, 'older than --ttl') +
          (s.released > 0 ? row('released', s.released, 'claimed but not started (stopped, or the lease ran short); given back') : ''),
      )
    }
  } finally {
    stop.dispose()
  }
}

function printOutcome(ev: OutcomeEvent): void {
  if (ev.outcome === 'delivered' || ev.outcome === 'deferred') return
  const id = ev.envelope?.id !== undefined ? ` id=${ev.envelope.id}` : ''
  process.stderr.write(terminalSafe(`${ev.outcome} ${ev.segment}@${ev.offset}${id}: ${ev.reason ?? ev.error ?? ''}`) + '\n')
}

const neverCalled: Handler = () => {
  throw new Error('dletter: a dry run does not call the handler')
}

/**
 * A handler promise that never settles leaves nothing for the event loop to wait on: the
 * process would exit 0 mid-run, silently, with the replay lock still on disk. So the run
 * holds a timer until it is over; and should the process end anyway (the handler calls
 * process.exit, an uncaught exception), the exit code says so and the lock goes with it.
 */
function guardUnfinishedRun(): { dispose: () => void } {
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  // The replay lock goes with the process: store/lock.ts removes the locks it holds at exit.
  const onExit = (code: number) => {
    if (code !== EXIT.INTERRUPTED) {
      process.exitCode = EXIT.FAILURE
      process.stderr.write('dletter: the replay ended before it finished (did the handler exit the process?); the next run resumes from the last checkpoint\n')
    }
  }
  process.on('exit', onExit)
  return {
    dispose: () => {
      clearInterval(keepAlive)
      process.off('exit', onExit)
    },
  }
}

const row = (label: string, n: number, what: string) => `  ${label.padEnd(10)}${String(n).padStart(8)}  ${what}\n`
const stoppedText = (stopped: ReplaySummary['stopped']) => (stopped === 'abort' ? ' (aborted)' : stopped === 'limit' ? ' (stopped at --limit)' : '')

function formatSummary(file: string, s: ReplaySummary): string {
  const head = s.dryRun ? `dry run of ${terminalSafe(file)}: nothing was called or changed` : `replay of ${terminalSafe(file)}`
  const wouldOr = (a: string, b: string) => (s.dryRun ? a : b)
  return (
    `${head}${stoppedText(s.stopped)}\n` +
    `  ${s.handled} items, ${formatBytes(s.bytes)} from ${s.segments} segment(s) in ${formatDuration(s.durationMs)}\n` +
    row('delivered', s.delivered, wouldOr('(dry run: no handler calls)', 'handler succeeded')) +
    (s.dryRun ? row('due', s.due, 'would be given to the handler') : '') +
    row('requeued', s.requeued, 'failed again; re-logged with attempt+1 and a backoff due time') +
    row('deferred', s.deferred, 'not yet due; carried forward unchanged') +
    row('permanent', s.permanent, wouldOr('out of attempts; would move to the permanent log', 'out of attempts or PermanentError; moved to the permanent log')) +
    row('expired', s.expired, 'older than --ttl; moved to the permanent log') +
    row('corrupt', s.corrupt, 'unreadable lines quarantined to the corrupt log') +
    (s.dryRun ? '' : `  segments removed: ${s.segmentsRemoved} of ${s.segments}\n`)
  )
}

/**
 * Import a handler module by path (relative to the current directory). The default export
 * or a function named `handler`; a CommonJS `module.exports = { handler }` works too.
 */
export async function loadHandler(spec: string): Promise<Handler> {
  const abs = path.resolve(spec)
  let st: fs.Stats
  try {
    st = fs.statSync(abs)
  } catch {
    throw new CliError(`handler module not found: ${abs}`, EXIT.FAILURE)
  }
  if (!st.isFile()) throw new CliError(`handler module ${abs} is not a file`, EXIT.FAILURE)
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const hint =
      code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?tsx?$/.test(abs)
        ? ' (a TypeScript handler needs a loader: run the CLI with `node --import tsx`, or compile the handler to .js)'
        : ''
    throw new CliError(`cannot load handler module ${spec}: ${(err as Error)?.message ?? String(err)}${hint}`, EXIT.FAILURE, { cause: err })
  }
  const def = mod.default as unknown
  const candidates = [def, mod.handler, (def as Record<string, unknown> | undefined)?.handler]
  const fn = candidates.find((c) => typeof c === 'function')
  if (!fn) {
    const exported = Object.keys(mod).filter((k) => k !== '__esModule')
    throw new CliError(
      `handler module ${spec} does not export a function: use \`export default async function (payload, envelope) {…}\` or \`export async function handler(payload, envelope) {…}\`` +
        ` (it exports: ${exported.length > 0 ? exported.join(', ') : 'nothing'})`,
      EXIT.FAILURE,
    )
  }
  return fn as Handler
}
