/**
 * A requeue or purge started from a page runs as a job: the POST answers at once with the
 * job's id, and the page polls it for progress and then the summary (the same object the
 * CLI prints with --json). One job per source at a time; the admin functions' locks guard
 * against everyone else (the CLI, a replay). Closing the server aborts running jobs, which
 * roll back the segment in progress, and waits for them.
 */
import { randomUUID } from 'node:crypto'
import type { Progress } from '../format/model.js'
import { type ErrorBody, HttpError, toErrorBody } from './http-error.js'

export interface JobView {
  id: string
  op: 'requeue' | 'purge'
  source: string
  state: 'running' | 'done' | 'failed'
  startedAt: number
  finishedAt: number | null
  progress: Progress | null
  result: unknown
  error: ErrorBody | null
}

const KEEP_FINISHED = 50

export class Jobs {
  private readonly jobs = new Map<string, JobView>()
  private readonly running = new Map<string, { ac: AbortController; done: Promise<void> }>()

  start(
    source: string,
    op: 'requeue' | 'purge',
    fn: (signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<unknown>,
  ): JobView {
    for (const j of this.jobs.values()) {
      if (j.source === source && j.state === 'running') throw new HttpError(409, `a ${j.op} is already running on this log (job ${j.id})`, 'DLQ_BUSY')
    }
    const job: JobView = { id: randomUUID(), op, source, state: 'running', startedAt: Date.now(), finishedAt: null, progress: null, result: null, error: null }
    this.jobs.set(job.id, job)
    const ac = new AbortController()
    // An async wrapper: a function that throws before returning its promise fails the job
    // rather than leaving it 'running' for good (and its source answering 409 ever after).
    const done = (async () => fn(ac.signal, (p) => {
      job.progress = { done: p.done, total: p.total, items: p.items }
    }))().then(
      (result) => {
        job.result = result
        job.state = 'done'
      },
      (err) => {
        job.error = toErrorBody(err)
        job.state = 'failed'
      },
    ).finally(() => {
      job.finishedAt = Date.now()
      this.running.delete(job.id)
      this.prune()
    })
    this.running.set(job.id, { ac, done })
    return job
  }

  /**
   * A change the request itself answers (one entry's edit): a job like the others (one per
   * source, aborted and waited for on close), its outcome returned or thrown as it was.
   */
  async run<T>(source: string, op: 'requeue' | 'purge', fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let outcome: Promise<T> | undefined
    const job = this.start(source, op, (signal) => (outcome = (async () => fn(signal))()))
    await this.running.get(job.id)?.done
    return outcome!
  }

  get(id: string): JobView | undefined {
    return this.jobs.get(id)
  }

  /** Abort every running job and wait until each has rolled back or finished. */
  async close(): Promise<void> {
    const all = [...this.running.values()]
    for (const r of all) r.ac.abort(new Error('server closing'))
    await Promise.all(all.map((r) => r.done))
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.state !== 'running')
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.id)
  }
}
