/**
 * /metrics in the Prometheus text format, from each source's cheap counts (never a scan):
 * a scrape costs what logCounts costs, flat as the log grows. Label `log` is the log path
 * (the store's name for the central store), plus `host` for the store's per-host series.
 */
import { Gauge, Registry } from 'prom-client'
import { Limiter } from './cache.js'
import type { Counts } from '../format/model.js'
import type { Source } from './backend-source.js'

export class Metrics {
  readonly registry = new Registry()
  private readonly gauges: Record<keyof Counts | 'up', Gauge<'log' | 'host'>>
  // The gauges are shared state: concurrent scrapes take turns (the counts behind them are memoized).
  private readonly turn = new Limiter(1)

  constructor(private readonly sources: Source[]) {
    const g = (name: string, help: string) => new Gauge({ name, help, labelNames: ['log', 'host'] as const, registers: [this.registry] })
    this.gauges = {
      pending: g('dletter_pending_items', 'Items waiting in the retry log (due now and deferred).'),
      due: g('dletter_due_items', 'Retry-log items whose next attempt is due now.'),
      deferred: g('dletter_deferred_items', 'Retry-log items waiting for their backoff to pass.'),
      permanent: g('dletter_permanent_items', 'Entries in the permanent-failure log.'),
      corrupt: g('dletter_corrupt_records', 'Records in the corrupt quarantine.'),
      oldestPendingTs: g('dletter_oldest_pending_age_seconds', 'Age of the oldest failure still pending in the retry log (0 when none).'),
      up: g('dletter_source_up', '1 when the counts of this log could be read at this scrape, else 0.'),
    }
  }

  /** The exposition text, with every gauge set from counts read now. */
  render(now = Date.now()): Promise<string> {
    return this.turn.run(() => this.renderNow(now))
  }

  private async renderNow(now: number): Promise<string> {
    const results = await Promise.allSettled(this.sources.map((s) => s.counts()))
    for (const gauge of Object.values(this.gauges)) gauge.reset()
    this.sources.forEach((s, i) => {
      const r = results[i]
      const labels = { log: s.label }
      this.gauges.up.set(labels, r.status === 'fulfilled' ? 1 : 0)
      if (r.status !== 'fulfilled') return
      if (r.value.hosts && r.value.hosts.length > 0) for (const h of r.value.hosts) this.set({ log: s.label, host: h.host }, h, now)
      else this.set(labels, r.value, now)
    })
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }

  private set(labels: { log: string; host?: string }, c: Counts, now: number): void {
    for (const k of ['pending', 'due', 'deferred', 'permanent', 'corrupt'] as const) this.gauges[k].set(labels, c[k])
    this.gauges.oldestPendingTs.set(labels, c.oldestPendingTs === null ? 0 : Math.max(0, (now - c.oldestPendingTs) / 1000))
  }
}
