/**
 * stats, inspect, requeue and purge run the same calls with the same options object on a
 * local log (`stats(path, o)`) and on the central store (`store.stats(o)`): the commands pick
 * a backend here and never look at which one it is, except through the results they print.
 */
import { type Backend as LibraryBackend, type Progress, type PurgeResult, type RequeueResult, logBackend } from '../index.js'
import { redactUrl } from '../base/redact.js'
import { changeText, transformText } from '../format/change-text.js'
import { abortOnSignals, resolveLog } from './common.js'
import { type DbFlags, centralTarget, withStore } from './db.js'
import { EXIT, note, terminalSafe, usageError, warn } from './output.js'
import { Progress as ProgressDisplay } from './progress.js'

/** The library's Backend, and what the commands print about it. */
export interface Backend extends LibraryBackend {
  /** What --json adds to a result object: the store's URL, redacted (a local result names its path itself). */
  readonly tag: Record<string, string>
  /** The log argument as typed (local), for hints that repeat a command. */
  readonly arg: string | undefined
}

export interface BackendFlags extends DbFlags {
  maxRecordSize?: string
  json?: boolean
}

/** Runs `fn` on the backend the command line names: --db / $DLETTER_DB, else the LOG path. */
export async function withBackend<T>(logArg: string | undefined, flags: BackendFlags, fn: (b: Backend) => Promise<T>): Promise<T> {
  const url = centralTarget(logArg, flags)
  if (url === undefined) {
    const file = await resolveLog(logArg!, { quiet: flags.json })
    const local = flags.maxRecordSize !== undefined ? { maxRecordSize: flags.maxRecordSize } : {}
    return fn({ ...logBackend(file, local), tag: {}, arg: logArg })
  }
  if (flags.maxRecordSize !== undefined) throw usageError('--max-record-size applies to a local log, not to --db')
  const central = { ...(flags.host !== undefined ? { host: flags.host } : {}) }
  const rate = flags.rate !== undefined ? { rate: flags.rate } : {}
  return withStore(url, undefined, (store) =>
    fn({
      stats: (o) => store.stats({ ...o, ...central }),
      inspect: (o) => store.inspect({ ...o, ...central }),
      readEntry: (ref) => store.readEntry(ref),
      readAudit: (ref, o) => store.readAudit(ref, o),
      requeue: (o) => store.requeue({ ...o, ...central, ...rate }),
      purge: (o) => store.purge({ ...o, ...central, ...rate }),
      // withStore closes the store.
      close: async () => {},
      tag: { store: redactUrl(url) },
      arg: undefined,
    }),
  )
}

/**
 * requeue and purge: one run (a dry run takes no lock and shows no progress; a real one stops
 * on the first SIGINT/SIGTERM after rolling back the segment in progress; a second one exits
 * at once) and one printer.
 */
export async function runChange<R extends RequeueResult | PurgeResult>(
  op: 'requeue' | 'purge',
  logArg: string | undefined,
  flags: BackendFlags & { dryRun?: boolean; progress?: boolean },
  call: (b: Backend, o: { signal?: AbortSignal; onProgress?: (p: Progress) => void }) => Promise<R>,
  hint: (r: R, b: Backend) => string[] = () => [],
): Promise<number> {
  const out = await withBackend(logArg, flags, async (b) => {
    const r = flags.dryRun ? await call(b, {}) : await rewrite(op, !flags.json && flags.progress !== false, b, call)
    if (flags.json) return { text: JSON.stringify({ ...b.tag, ...r }), r }
    const transform = 'transform' in r && r.transform ? transformText(r.transform, r.dryRun, terminalSafe) : ''
    const audit = r.audit && !r.dryRun ? `  audit: ${r.audit.records} record(s) in ${terminalSafe(r.audit.where)}` : undefined
    return { text: transform + [terminalSafe(changeText(r)), ...(audit !== undefined ? [audit] : []), ...hint(r, b)].join('\n'), r }
  })
  if (!flags.json) {
    if (out.r.backend.type === 'local' && out.r.backend.recovered) note(out.r.backend.recovered)
    for (const w of out.r.warnings) warn(w)
  }
  process.stdout.write(out.text + '\n')
  return EXIT.OK
}

async function rewrite<R>(op: string, showProgress: boolean, b: Backend, call: (b: Backend, o: { signal?: AbortSignal; onProgress?: (p: Progress) => void }) => Promise<R>): Promise<R> {
  const stop = abortOnSignals((sig) => note(`${sig} received: stopping after rolling back the segment in progress (send it again to exit at once)`))
  const progress = new ProgressDisplay(op, showProgress)
  try {
    return await call(b, { signal: stop.signal, onProgress: (p) => progress.update(p) })
  } finally {
    progress.stop()
    stop.dispose()
  }
}
