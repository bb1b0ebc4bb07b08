#!/usr/bin/env node
/**
 * dletter: operate a dead-letter log from the shell or cron. One file per command; this one
 * only wires them together, and owns process exit (a handler module may leave sockets or
 * timers open, which must not keep a cron job alive after the replay is done).
 */
import { createRequire } from 'node:module'
import { Command, CommanderError } from 'commander'
import { EXIT, EXIT_CODES_HELP, stdoutWrite, terminalSafe } from './output.js'
import { registerInspect } from './inspect.js'
import { registerPurge } from './purge.js'
import { registerReplay } from './replay.js'
import { registerRequeue } from './requeue.js'
import { registerServe } from './serve.js'
import { registerShip } from './ship.js'
import { registerStats } from './stats.js'

function version(): string {
  try {
    // src/cli/main.ts and dist/cli/main.js are both two levels below the package root.
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version
  } catch {
    return 'unknown'
  }
}

export function buildProgram(): Command {
  const program = new Command('dletter')
  program
    .description(
      'Operate a dletter dead-letter log: replay failed work through a handler (from cron), see what is waiting and why, list entries, move permanent failures back, purge old ones. LOG is the log file path given to Logger.open, e.g. /var/lib/app/dlq/orders.log.',
    )
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (also: dletter <command> --help)')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
  registerReplay(program)
  registerStats(program)
  registerInspect(program)
  registerRequeue(program)
  registerPurge(program)
  registerServe(program)
  registerShip(program)
  program.addHelpText(
    'after',
    `
Examples:
  $ dletter stats ./dlq/orders.log
  $ dletter replay ./dlq/orders.log --handler ./dlq-handler.js --max-attempts 8
  $ dletter inspect ./dlq/orders.log --permanent --reason timeout --limit 20
  $ dletter requeue ./dlq/orders.log --reason ECONNREFUSED --reset-attempts
  $ dletter purge ./dlq/orders.log --permanent --older-than 30d --yes
  $ dletter ship ./dlq/orders.log --db postgres://dlq@db/ops
  $ dletter stats --db postgres://dlq@db/ops --top 20

Environment:
  DLETTER_DB                 connection string of the central PostgreSQL store (ship; stats/inspect/replay/requeue/purge without LOG)
  DLETTER_PROGRESS_INTERVAL  how often progress lines are printed when stderr is not a terminal (default 2s)

${EXIT_CODES_HELP}`,
  )
  // Commander exits itself on usage errors; route through here so every exit is ours.
  program.exitOverride()
  for (const cmd of program.commands) cmd.exitOverride()
  return program
}

async function main(): Promise<void> {
  const program = buildProgram()
  if (process.argv.length <= 2) {
    program.outputHelp({ error: true })
    return finish(EXIT.USAGE)
  }
  try {
    await program.parseAsync(process.argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; everything else commander reports is a usage error.
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help'
      return finish(ok && err.exitCode === 0 ? EXIT.OK : EXIT.USAGE)
    }
    process.stderr.write(`dletter: ${terminalSafe((err as Error)?.message ?? String(err))}\n`)
    return finish(EXIT.FAILURE)
  }
  finish(typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK)
}

function finish(code: number): void {
  // Exit once stdout is flushed: output to a pipe must not be cut short. The real stdout:
  // process.stdout.write may be diverted to stderr by now.
  stdoutWrite('', () => process.exit(code))
}

void main()
