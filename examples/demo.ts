/**
 * `npm run demo`: the whole dletter story in a temporary directory, in well under a minute.
 *
 *   1. a payments API goes down; ~2,000 failed orders are logged with log()
 *   2. `dletter stats` shows what is waiting
 *   3. a cron-style `dletter replay` runs three times: most orders recover, some keep failing
 *      and use up their attempts, invalid ones go straight to the permanent log
 *   4. `stats` and `inspect --permanent` show what is left and why
 *   5. the bug behind one failure mode is "fixed"; `requeue --reset-attempts` moves those
 *      orders back, one more replay delivers them
 *   6. a bug in the data: a transform repairs the invalid orders (dry run first, then the
 *      audited requeue), and a replay delivers them; final `stats`
 *
 * The downstream is simulated with seeded randomness (examples/handler.ts), so every run
 * tells the same story. The CLI runs from source through tsx: no build step needed.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Logger } from '../src/index.js'
import { type Order, chargeOrder, seeded } from './handler.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const cliMain = path.join(root, 'src', 'cli', 'main.ts')
const FAILURES = 2000

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s)
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s)

function section(title: string, explain: string): void {
  const line = '─'.repeat(Math.min(process.stdout.columns ?? 88, 88))
  console.log(`\n${line}\n${bold(title)}\n${explain
    .split('\n')
    .map((l) => dim(l))
    .join('\n')}\n`)
}

/** Run the real CLI, as cron would; the demo stops at the first unexpected exit code. */
function dletter(args: string[], env: Record<string, string> = {}): void {
  console.log(bold(`$ dletter ${args.map((a) => (/[\s'|*]/.test(a) ? `'${a}'` : a)).join(' ')}`))
  const res = spawnSync(process.execPath, ['--import', 'tsx', cliMain, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, DLETTER_PROGRESS_INTERVAL: '250ms', ...env },
  })
  if (res.status !== 0) throw new Error(`dletter ${args[0]} exited with ${res.status ?? res.signal}`)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function main(): Promise<void> {
  const started = Date.now()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dletter-demo-'))
  const log = path.join(dir, 'orders.log')
  try {
    section(
      '1. The payments API is down: failed orders go to the dead-letter log',
      `Orders are charged through a flaky payments API. Every failure is appended to\n${log}\nwith dlq.log(order, err, 1, { id }) — durable as soon as it resolves, even if the\nservice crashes right after.`,
    )
    const dlq = await Logger.open(log, { rotateSize: '128K' })
    const rnd = seeded(42)
    let attempted = 0
    let logged = 0
    const t0 = Date.now()
    while (logged < FAILURES) {
      const batch: Promise<{ order: Order; err: unknown } | undefined>[] = []
      for (let i = 0; i < 50; i++) {
        const n = ++attempted
        const r = rnd()
        const cents = Math.round(rnd() * 20000) + 100
        const order: Order = {
          orderId: `ord-${String(n).padStart(5, '0')}`,
          customer: r < 0.04 ? 'legacy-corp' : `cust-${Math.floor(rnd() * 300)}`,
          amount: r > 0.985 ? 0 : cents / 100,
          currency: 'EUR',
        }
        // The bug in the data: an older checkout sent the amount as text, and 0 as the amount.
        if (order.amount === 0) order.amountText = (cents / 100).toFixed(2).replace('.', ',')
        batch.push(chargeOrder(order, 0).then(() => undefined, (err: unknown) => ({ order, err })))
      }
      // Logged in order, after the batch settles, so every run logs the same orders.
      for (const failed of await Promise.all(batch)) {
        if (!failed || logged >= FAILURES) continue
        logged++
        await dlq.log(failed.order, failed.err, 1, { id: failed.order.orderId })
      }
    }
    await dlq.close()
    console.log(`${attempted} orders attempted, ${logged} failed and were logged in ${Date.now() - t0} ms.`)
    console.log(`files: ${fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort().join(', ')}`)

    section('2. What is waiting', '`dletter stats` reads the log without changing it (safe next to a live writer).')
    dletter(['stats', log])

    section(
      '3. Cron-style replay through the CLI',
      'Each run takes the replay lock, feeds due items to examples/handler.ts and checkpoints as it\n' +
        'goes. Failures are re-logged with attempt+1 and a backoff due time (300-600 ms here, so\n' +
        'the next run finds them due); after 4 attempts, or on PermanentError (invalid orders),\n' +
        'items move to the permanent log. Progress lines go to stderr.',
    )
    const replayArgs = ['replay', log, '--handler', 'examples/handler.ts', '--max-attempts', '4', '--initial-wait', '300ms', '--max-wait', '600ms', '--concurrency', '8']
    for (let run = 1; run <= 3; run++) {
      console.log(dim(`\n# run ${run} of 3`))
      dletter(replayArgs)
      if (run < 3) await sleep(800)
    }

    section('4. What is left after three runs', 'Recovered orders are gone from the log; the ones that kept failing are in the permanent log.')
    dletter(['stats', log])

    section(
      '5. Why did they fail for good?',
      '`inspect --permanent` lists permanent-log entries (JSON Lines with --json or in a pipe).',
    )
    dletter(['inspect', log, '--permanent', '--limit', '5', '--human'])
    dletter(['inspect', log, '--permanent', '--reason', 'legacy billing schema', '--limit', '3', '--human'])

    section(
      '6. The legacy billing bug is fixed: requeue those orders',
      'requeue moves matching permanent entries back to the retry log, crash-safely (an entry is\n' +
        'never lost, and once a run completes it is in exactly one log). --reset-attempts gives\n' +
        'them a fresh set of attempts. --dry-run first shows how many would move.',
    )
    dletter(['requeue', log, '--reason', 'legacy billing schema', '--dry-run'])
    dletter(['requeue', log, '--reason', 'legacy billing schema', '--reset-attempts'])

    section('7. Replay once more, against the fixed API', 'Most requeued orders go through now; the few random failures wait for the next cron run.')
    dletter(replayArgs, { DEMO_DOWNSTREAM_FIXED: '1' })

    section(
      '8. A bug in the data: repair before redrive',
      'The "invalid" orders came from an older checkout that sent the amount as text ("12,50") and 0\n' +
        'as the amount. No retry can fix that; examples/fix-amount.mjs can. requeue --transform runs it on\n' +
        'each matching entry: --dry-run shows the changes as diffs; the real run writes each repaired order\n' +
        'as a new entry pointing at its original (editOf), and records who, why and the exact change\n' +
        '(a JSON Patch) in orders.log.audit.jsonl next to the log.',
    )
    dletter(['inspect', log, '--permanent', '--reason', 'amount must be positive', '--limit', '1', '--human'])
    const repair = ['requeue', log, '--reason', 'amount must be positive', '--transform', 'examples/fix-amount.mjs', '--why', 'checkout sent amounts as text (PAY-123)', '--actor', 'demo']
    dletter([...repair, '--dry-run'])
    dletter([...repair, '--no-progress'])
    // The plain requeue of step 6 is in the audit log too; the last record is a repair.
    const last = fs.readFileSync(`${log}.audit.jsonl`, 'utf8').trim().split('\n').at(-1)!
    console.log(dim(`\nthe last audit record (one repaired order):\n${last}`))
    dletter(replayArgs, { DEMO_DOWNSTREAM_FIXED: '1' })

    section('9. Final state', 'What is left: the orders that failed again wait for the next cron run; the rest of the\npermanent log (invalid orders, exhausted retries) waits for a human, or for `dletter purge`.')
    dletter(['stats', log, '--top', '5'])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log(`\n${bold('Done')} in ${((Date.now() - started) / 1000).toFixed(1)} s; ${dir} removed.`)
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error)?.message ?? String(err)}`)
  process.exit(1)
})
