/**
 * Failures over time as server-rendered SVG: no script, no inline style (the CSP allows
 * neither), only presentation attributes. Readable without colour: each reason group has its
 * own fill pattern as well as its own colour, the legend gives each group's total, every bar
 * segment has a `<title>` tooltip with its numbers, and a table below holds every number.
 */
import type { FailureSeries } from '../../format/series.js'
import { clip, formatCount, formatTime } from './format.js'
import { type Html, html } from './html.js'

const W = 760
const H = 240
const LEFT = 44
const RIGHT = 8
const TOP = 10
const BOTTOM = 28

/** Colour and pattern per group position (a 7th position and beyond reuse them; top is at most 20). */
const STYLES: Array<{ colour: string; mark: string }> = [
  { colour: '#2458d6', mark: '' },
  { colour: '#d9822b', mark: 'M0,6 L6,0' },
  { colour: '#157f3b', mark: 'M0,3 L6,3' },
  { colour: '#b42318', mark: 'M3,0 L3,6' },
  { colour: '#7a3ec8', mark: 'M0,0 L6,6 M0,6 L6,0' },
  { colour: '#0e8a8a', mark: 'dots' },
  { colour: '#8a8f98', mark: 'M0,0 L6,6' },
]

function styleOf(i: number) {
  return STYLES[i % STYLES.length]!
}

function patterns(prefix: string, n: number): Html {
  return html`<defs>${Array.from({ length: n }, (_, i) => {
    const s = styleOf(i)
    const mark =
      s.mark === ''
        ? ''
        : s.mark === 'dots'
          ? html`<circle cx="3" cy="3" r="1.4" fill="#fff"/>`
          : html`<path d="${s.mark}" stroke="#fff" stroke-width="1.6"/>`
    return html`<pattern id="${prefix}${i}" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="${s.colour}"/>${mark}</pattern>`
  })}</defs>`
}

export function bucketLabel(s: FailureSeries, start: number): string {
  const t = formatTime(start)
  return s.bucketMs >= 86_400_000 ? t.slice(0, 10) : t.slice(0, 16) + ' UTC'
}

/** A "nice" axis maximum ≥ max: 1, 2 or 5 × a power of ten. */
function niceMax(max: number): number {
  if (max <= 5) return Math.max(1, max)
  const p = 10 ** Math.floor(Math.log10(max))
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max)!
}

/** The stacked bar chart: one bar per bucket, one segment per group (the largest group at the bottom). */
export function failureChart(s: FailureSeries, what: string): Html {
  const n = s.buckets.length
  const plotW = W - LEFT - RIGHT
  const plotH = H - TOP - BOTTOM
  const bw = plotW / n
  const max = niceMax(Math.max(0, ...s.totals))
  const y = (v: number) => TOP + plotH - (v / max) * plotH
  const every = n > 24 ? 5 : 6
  const label = `${what}: ${formatCount(s.total)} failures, ${s.range === '24h' ? 'last 24 hours by hour' : 'last 30 days by day'}`
  const bars = s.buckets.map((start, b) => {
    let acc = 0
    const when = bucketLabel(s, start)
    const segs = s.groups.map((g, gi) => {
      const c = g.counts[b]!
      if (c === 0) return ''
      const y1 = y(acc + c)
      const h = y(acc) - y1
      acc += c
      return html`<rect class="seg" x="${(LEFT + b * bw + 1).toFixed(1)}" y="${y1.toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="url(#fp${gi})" stroke="#1d2430" stroke-width="0.5" data-bucket="${start}" data-group="${gi}" data-count="${c}"><title>${when} — ${clip(g.fingerprint, 200).text}: ${formatCount(c)} of ${formatCount(s.totals[b]!)}</title></rect>`
    })
    const tick = b % every === 0 ? html`<text x="${(LEFT + b * bw + bw / 2).toFixed(1)}" y="${H - 10}" text-anchor="middle" font-size="10" fill="#6b7380">${s.bucketMs >= 86_400_000 ? when.slice(5) : when.slice(11, 16)}</text>` : ''
    return html`<g class="bar" data-bucket="${start}" data-total="${s.totals[b]}">${segs}${tick}</g>`
  })
  return html`<svg class="chart" role="img" aria-label="${label}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">
<title>${label}</title>
${patterns('fp', s.groups.length)}
<line x1="${LEFT}" y1="${TOP + plotH}" x2="${W - RIGHT}" y2="${TOP + plotH}" stroke="#6b7380"/>
<line x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${TOP + plotH}" stroke="#6b7380"/>
<text x="${LEFT - 4}" y="${TOP + 4}" text-anchor="end" font-size="10" fill="#6b7380">${formatCount(max)}</text>
<text x="${LEFT - 4}" y="${TOP + plotH}" text-anchor="end" font-size="10" fill="#6b7380">0</text>
${bars}
</svg>`
}

/** Each group's pattern (a swatch drawn with the chart's own patterns) and its total. */
export function chartLegend(s: FailureSeries): Html {
  if (s.groups.length === 0) return html`<p class="muted">No failures in this range.</p>`
  return html`<ul class="legend">${s.groups.map(
    (g, i) => html`<li data-group="${i}"><svg width="14" height="14" aria-hidden="true"><rect width="14" height="14" fill="url(#fp${i})" stroke="#1d2430" stroke-width="0.5"/></svg> <span class="reason">${clip(g.fingerprint, 200).text}</span> <b class="num">${formatCount(g.total)}</b></li>`,
  )}</ul>`
}

/** Every number of the chart, for reading without the picture. */
export function chartTable(s: FailureSeries): Html {
  return html`<table class="chart-data">
<caption>failures per ${s.bucketMs >= 86_400_000 ? 'day' : 'hour'} (UTC)</caption>
<thead><tr><th>${s.bucketMs >= 86_400_000 ? 'day' : 'hour'}</th>${s.groups.map((g) => html`<th class="num">${clip(g.fingerprint, 80).text}</th>`)}<th class="num">total</th></tr></thead>
<tbody>${s.buckets.map(
    (start, b) => html`<tr data-bucket="${start}"><td>${bucketLabel(s, start)}</td>${s.groups.map((g) => html`<td class="num">${formatCount(g.counts[b]!)}</td>`)}<td class="num">${formatCount(s.totals[b]!)}</td></tr>`,
  )}</tbody>
</table>`
}

/** A small bar line of totals with a `<title>` per bar and the sum in words beside it. */
export function sparkline(counts: number[], buckets: number[], what: string): Html {
  const w = 120
  const h = 24
  const max = Math.max(1, ...counts)
  const bw = w / counts.length
  const total = counts.reduce((a, b) => a + b, 0)
  return html`<span class="spark"><svg class="sparkline" role="img" aria-label="${what}: ${formatCount(total)} new failures in 24 h" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}"><title>${what}: ${formatCount(total)} new failures in the last 24 h</title>${counts.map((c, i) => {
    const bh = c === 0 ? 1 : Math.max(2, (c / max) * (h - 2))
    return html`<rect x="${(i * bw).toFixed(1)}" y="${(h - bh).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${c === 0 ? '#d9dde3' : '#b42318'}" data-count="${c}"><title>${formatTime(buckets[i]!).slice(0, 16)} UTC: ${formatCount(c)}</title></rect>`
  })}</svg> <span class="spark-total">${formatCount(total)} in 24 h</span></span>`
}
