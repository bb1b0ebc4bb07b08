/**
 * Progress on stderr, so stdout stays clean for results and --json. On a terminal: a
 * cli-progress bar, shown only once an operation has run for a moment (small logs finish
 * without flicker). Elsewhere (cron, CI, pipes): a plain line every DLETTER_PROGRESS_INTERVAL
 * (default 2s), because carriage-return redraws turn into garbage in a log file.
 */
import cliProgress from 'cli-progress'
import { parseDuration } from '../base/checks.js'
import type { Progress as Step } from '../format/model.js'
import { formatBytes } from './output.js'

const BAR_DELAY_MS = 300

export class Progress {
  private readonly tty = process.stderr.isTTY === true
  private readonly interval = progressInterval()
  private readonly startedAt = Date.now()
  private bar: cliProgress.SingleBar | undefined
  private lastLine = this.startedAt
  private state = { done: 0, total: 0, items: 0 }
  private stopped = false

  constructor(
    private readonly label: string,
    private readonly enabled: boolean,
  ) {}

  /** A step of the library's progress; an unknown total is what is done so far. */
  update(p: Step): void {
    if (!this.enabled || this.stopped) return
    this.state = { ...p, total: p.total ?? p.done }
    const now = Date.now()
    if (this.tty) {
      if (!this.bar && now - this.startedAt >= BAR_DELAY_MS) this.startBar()
      this.bar?.update(Math.min(this.state.done, this.state.total), this.payload())
      if (this.bar && this.bar.getTotal() !== this.state.total) this.bar.setTotal(this.state.total)
      return
    }
    if (now - this.lastLine >= this.interval) {
      this.lastLine = now
      const { done, total, items } = this.state
      const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100
      process.stderr.write(`${this.label}: ${pct}% (${formatBytes(done)} of ${formatBytes(total)}), ${items} items\n`)
    }
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    if (this.bar) {
      this.bar.update(Math.min(this.state.done, this.state.total), this.payload())
      this.bar.stop()
    }
  }

  private payload(): Record<string, string | number> {
    return { doneH: formatBytes(this.state.done), totalH: formatBytes(this.state.total), items: this.state.items }
  }

  private startBar(): void {
    this.bar = new cliProgress.SingleBar(
      {
        format: `${this.label} [{bar}] {percentage}% | {doneH}/{totalH} | {items} items | ETA {eta_formatted}`,
        barsize: 24,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        // We handle SIGINT ourselves (graceful abort); cli-progress must not exit for us.
        gracefulExit: false,
        linewrap: true,
      },
      cliProgress.Presets.shades_classic,
    )
    this.bar.start(Math.max(this.state.total, 1), 0, this.payload())
  }
}

function progressInterval(): number {
  try {
    return parseDuration(process.env.DLETTER_PROGRESS_INTERVAL || 2000)
  } catch {
    return 2000
  }
}
