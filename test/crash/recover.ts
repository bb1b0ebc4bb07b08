/**
 * Recovery of one crash state, in a new process, the way a user recovers after a power cut:
 * the application starts (`Logger.open`), someone looks (`dletter stats --json`: the CLI's stats
 * command, run in this process), the cron replay runs (every item due, the handler succeeds). Then every
 * file of the log is read: which ids are where.
 *
 * argv[2]: JSON { log, durability, compress, result }. Writes the outcome as JSON to `result`.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Logger } from '../../src/index.js'
import { Command } from 'commander'
import { registerStats } from '../../src/cli/stats.js'
import { completeRecordIn, recordIds } from './log-ids.js'

export interface RecoveryInput {
  log: string
  durability: 'fsync' | 'kernel'
  compress: boolean
  result: string
}

export interface RecoveryOutcome {
  /** Each error recovery met (an error here is a violation). */
  errors: string[]
  /** Ids the recovery replay delivered, with how often. */
  delivered: Record<string, number>
  /** Ids in the permanent log after recovery. */
  permanent: string[]
  /** Ids still in the retry log after recovery (none expected: everything was due). */
  retry: string[]
  /** Quarantined lines that held a complete record. */
  quarantinedComplete: string[]
  quarantined: number
  stats: { retryPending: number; permanentEntries: number; unparseable: number } | undefined
  warnings: string[]
}

const YEAR = 365 * 24 * 3600 * 1000

async function cliStats(log: string): Promise<{ code: number; json: string; stderr: string }> {
  let json = ''
  let stderr = ''
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string | Uint8Array) => ((json += String(chunk)), true)) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write
  try {
    process.exitCode = 0
    // The CLI's own stats command (argument parsing, resolution, output), without main()'s process exit.
    const program = new Command('dletter').exitOverride()
    registerStats(program)
    await program.parseAsync(['node', 'dletter', 'stats', log, '--json', '--no-progress'])
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0
  process.exitCode = 0
  return { code, json, stderr }
}

async function recover(input: RecoveryInput): Promise<RecoveryOutcome> {
  const o: RecoveryOutcome = { errors: [], delivered: {}, permanent: [], retry: [], quarantinedComplete: [], quarantined: 0, stats: undefined, warnings: [] }
  const fail = (what: string, err: unknown) => {
    const e = err as { code?: string; message?: string }
    o.errors.push(`${what}: ${e?.code ?? ''} ${e?.message ?? String(err)}`.trim())
  }
  let dlq: Logger | undefined
  try {
    dlq = await Logger.open(input.log, { durability: input.durability, compress: input.compress })
  } catch (err) {
    fail('Logger.open', err)
  }
  if (dlq) {
    try {
      const s = await cliStats(input.log)
      if (s.code !== 0) o.errors.push(`dletter stats exited ${s.code}: ${s.stderr.trim()}`)
      else {
        const st = JSON.parse(s.json) as {
          retry: { count: number }
          permanent: { count: number }
          backend: { retry: { unparseable: number }; permanent: { unparseable: number }; readErrors: Array<{ file: string; error: string }> }
        }
        for (const e of st.backend.readErrors) o.errors.push(`dletter stats could not read ${path.basename(e.file)}: ${e.error}`)
        o.stats = { retryPending: st.retry.count, permanentEntries: st.permanent.count, unparseable: st.backend.retry.unparseable + st.backend.permanent.unparseable }
      }
    } catch (err) {
      fail('dletter stats', err)
    }
    try {
      const summary = await dlq.replay(
        (_payload, item) => {
          const id = item.id ?? `?${item.segment}@${item.offset}`
          o.delivered[id] = (o.delivered[id] ?? 0) + 1
        },
        { now: () => Date.now() + YEAR },
      )
      o.warnings.push(...summary.warnings)
    } catch (err) {
      fail('replay', err)
    }
    try {
      await dlq.close()
    } catch (err) {
      fail('close', err)
    }
  }
  const dir = path.dirname(input.log)
  const file = path.basename(input.log)
  const ext = path.extname(file)
  const name = file.slice(0, file.length - ext.length)
  for (const n of fs.readdirSync(dir).sort()) {
    const bytes = fs.readFileSync(path.join(dir, n))
    if (n === `corrupt-${file}`) {
      for (const line of bytes.toString('utf8').split('\n')) {
        if (line.length === 0) continue
        o.quarantined++
        const q = JSON.parse(line) as { raw: string; rawEncoding: string }
        const raw = q.rawEncoding === 'base64' ? Buffer.from(q.raw, 'base64').toString('utf8') : q.raw
        const id = completeRecordIn(raw)
        if (id !== undefined) o.quarantinedComplete.push(id)
      }
      continue
    }
    if (n.endsWith('.state') || n.endsWith('.meta') || n.endsWith('.tmp') || n.startsWith('.')) continue
    const gz = n.endsWith('.gz')
    if (n.startsWith(`permanent-${name}`)) o.permanent.push(...recordIds(bytes, gz))
    else if (n.startsWith(name)) o.retry.push(...recordIds(bytes, gz))
  }
  return o
}

const input = JSON.parse(process.argv[2]!) as RecoveryInput
const outcome = await recover(input)
fs.writeFileSync(input.result, JSON.stringify(outcome))
process.exit(0)
