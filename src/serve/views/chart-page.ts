/** The chart page of one source: range and kind as plain links (no script), the chart, its legend and its table. */
import type { FailureSeries, SeriesKind, SeriesRange } from '../../format/series.js'
import type { ServeContext } from '../context.js'
import type { Source } from '../backend-source.js'
import { chartLegend, chartTable, failureChart } from './chart.js'
import { clip } from './format.js'
import { type Html, html } from './html.js'
import { layout } from './layout.js'

const RANGES: Array<[SeriesRange, string]> = [
  ['24h', 'last 24 hours'],
  ['30d', 'last 30 days'],
]
const KINDS: Array<[SeriesKind, string]> = [
  ['all', 'all failures'],
  ['retry', 'retry'],
  ['permanent', 'permanent'],
  ['corrupt', 'corrupt'],
]

export interface ChartView {
  source: Source
  range: SeriesRange
  kind: SeriesKind
  host?: string
  series: FailureSeries
}

export function chartPage(ctx: ServeContext, v: ChartView): Html {
  const key = encodeURIComponent(v.source.key)
  const link = (range: SeriesRange, kind: SeriesKind) => {
    const q = new URLSearchParams({ range, kind })
    if (v.host !== undefined) q.set('host', v.host)
    return `/logs/${key}/chart?${q.toString()}`
  }
  const choice = <T extends string>(items: Array<[T, string]>, current: T, href: (x: T) => string) =>
    html`${items.map(([x, text]) => (x === current ? html`<b aria-current="page">${text}</b>` : html`<a href="${href(x)}">${text}</a>`)).map((h, i) => (i === 0 ? h : html` · ${h}`))}`
  const what = `${v.source.key}${v.host !== undefined ? ` (host ${v.host})` : ''}, ${v.kind === 'all' ? 'all failures' : `${v.kind} log`}`
  return layout(ctx, {
    title: `Failures · ${v.source.key}`,
    page: 'chart',
    current: v.source.key,
    body: html`<h1>Failures over time <small>${v.source.label}</small></h1>
<p class="chart-choice">${choice(RANGES, v.range, (r) => link(r, v.kind))}</p>
<p class="chart-choice">${choice(KINDS, v.kind, (k) => link(v.range, k))}${v.host !== undefined ? html` · host <b>${clip(v.host, 100).text}</b> (<a href="/logs/${key}/chart?range=${v.range}&amp;kind=${v.kind}">all hosts</a>)` : ''}</p>
<figure id="chart">
${failureChart(v.series, what)}
<figcaption>${chartLegend(v.series)}<p class="muted">Each entry held now (retry, permanent, corrupt) counts once, at the time of its latest failure (UTC); stacked by reason group, the largest at the bottom. Numbers: <a href="/api/logs/${key}/chart?range=${v.range}&amp;kind=${v.kind}${v.host !== undefined ? `&host=${encodeURIComponent(v.host)}` : ''}">JSON</a>.</p></figcaption>
</figure>
${chartTable(v.series)}`,
  })
}
