/** What every route can reach: the sources, the mode, the running jobs. Built once per server. */
import { Jobs } from './jobs.js'
import { Metrics } from './metrics.js'
import { notFound } from './http-error.js'
import type { Source } from './backend-source.js'

export class ServeContext {
  readonly byKey: Map<string, Source>
  readonly jobs = new Jobs()
  readonly metrics: Metrics

  constructor(
    readonly sources: Source[],
    readonly allowWrites: boolean,
    readonly token: string | undefined,
  ) {
    this.byKey = new Map(sources.map((s) => [s.key, s]))
    this.metrics = new Metrics(sources)
  }

  source(key: string): Source {
    const s = this.byKey.get(key)
    if (!s) throw notFound(`no log ${JSON.stringify(key.slice(0, 100))} here; the logs served are: ${this.sources.map((x) => x.key).join(', ')}`)
    return s
  }

  async close(): Promise<void> {
    await this.jobs.close()
    await Promise.all(this.sources.map((s) => s.close()))
  }
}
