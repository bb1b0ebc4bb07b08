/**
 * `dletter serve <log>...`: the web inspector and Prometheus /metrics. Prints
 * `listening on http://HOST:PORT` on stdout once the port accepts connections (scripts wait
 * for that line; with --port 0 it carries the port picked) and runs until SIGINT/SIGTERM.
 */
import { type Command, Option } from 'commander'
import { abortOnSignals, action, given } from './common.js'
import { parseIntArg } from './filters.js'
import { EXIT, EXIT_CODES_HELP, note } from './output.js'

interface ServeFlags {
  db?: string
  port: number
  host: string
  allowWrites?: boolean
  token?: string
  verbose?: boolean
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .summary('web inspector and Prometheus /metrics for logs (read-only unless --allow-writes)')
    .description(
      'Serve a web inspector for one or more logs: counts per log (pending, due now, deferred, permanent, corrupt, oldest failure), failures grouped by reason, a filter over entries (reason text or regex, id, payload text, attempt, time range), each entry with its payload, and with --allow-writes requeue and purge (a dry-run count first, then a confirmation). Also /metrics in the Prometheus text format and a JSON API under /api/. Binds 127.0.0.1; a non-loopback --host needs --token.',
    )
    .argument('[log...]', 'paths of the log files, as given to Logger.open')
    .addOption(new Option('--db <url>', 'also serve the central PostgreSQL store at this connection string (default when no LOG is given: $DLETTER_DB)'))
    .addOption(new Option('--port <n>', 'TCP port (0 picks a free one; the line on stdout names it)').argParser(parseIntArg(0, 65535)).default(8080))
    .addOption(new Option('--host <addr>', 'address to bind; anything but loopback requires --token').default('127.0.0.1'))
    .addOption(new Option('--allow-writes', 'enable requeue and purge from the pages and the API'))
    .addOption(new Option('--token <token>', 'require this token (at least 16 characters): a bearer header or the login form').env('DLETTER_SERVE_TOKEN'))
    .addOption(new Option('--verbose', 'print stack traces with errors'))
  cmd.addHelpText(
    'after',
    `
Examples:
  $ dletter serve ./dlq/orders.log ./dlq/mails.log
  $ dletter serve ./dlq/orders.log --port 0 --allow-writes
  $ dletter serve --db postgres://dlq@db.internal/dlq --allow-writes
  $ DLETTER_SERVE_TOKEN=$(openssl rand -hex 16) dletter serve ./dlq/orders.log --host 0.0.0.0
  $ curl -s localhost:8080/metrics | grep dletter_pending_items

${EXIT_CODES_HELP}`,
  )
  cmd.action(action(run))
}

async function run(logs: string[], flags: ServeFlags): Promise<number> {
  // Loaded here: the other commands need not pay for the HTTP stack at startup.
  const { startServer } = await import('../serve/server.js')
  // As the other commands: with no LOG, $DLETTER_DB names the central store.
  const db = flags.db ?? (logs.length === 0 && process.env.DLETTER_DB ? process.env.DLETTER_DB : undefined)
  const server = await startServer({ logs, ...given({ ...flags, db }, ['db', 'port', 'host', 'token']), allowWrites: flags.allowWrites === true })
  const stop = abortOnSignals((sig) => note(`${sig} received: stopping (send it again to exit at once)`))
  try {
    process.stdout.write(`listening on ${server.url}\n`)
    note(`${server.sources.map((s) => `/logs/${s.key}: ${s.label}`).join(', ')}; ${flags.allowWrites ? 'writes enabled' : 'read-only'}`)
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }))
    await server.close()
  } finally {
    stop.dispose()
  }
  return EXIT.OK
}
