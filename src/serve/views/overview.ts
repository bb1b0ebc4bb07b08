/** The overview page: counts per source and the top reason groups; app.js refreshes it in place. */
import type { ServeContext } from '../context.js'
import type { GroupLink, Overview, OverviewSource } from '../overview.js'
import { sparkline } from './chart.js'
import { clip, formatAge, formatCount, formatTime } from './format.js'
import { type Html, html } from './html.js'
import { layout } from './layout.js'

function countCell(key: string, k: string, n: number | undefined, log?: string): Html {
  const text = n === undefined ? '—' : formatCount(n)
  const inner = log ? html`<a href="/logs/${encodeURIComponent(key)}/entries?kind=${log}">${text}</a>` : text
  return html`<td class="num" data-k="${k}">${inner}</td>`
}

export function reasonTable(key: string, title: string, groups: GroupLink[]): Html {
  if (groups.length === 0) return html`<p class="muted">${title}: none</p>`
  return html`<table class="groups">
<caption>${title}</caption>
<thead><tr><th>reason group</th><th class="num">count</th><th>first seen</th><th>last seen</th></tr></thead>
<tbody>${groups.map((g) => {
    const fp = clip(g.fingerprint, 200).text
    const label = g.query ? html`<a href="/logs/${encodeURIComponent(key)}/entries?${g.query}">${fp}</a>` : fp
    return html`<tr><td class="reason">${label}</td><td class="num">${formatCount(g.count)}</td><td>${formatTime(g.oldestTs)}</td><td>${formatTime(g.newestTs)}</td></tr>`
  })}</tbody>
</table>`
}

function sourceSection(s: OverviewSource): Html {
  const c = s.counts
  const key = s.key
  const reasons = s.reasons
    ? html`${reasonTable(key, 'retry log', s.reasons.retry)}${reasonTable(key, 'permanent log', s.reasons.permanent)}
<p class="muted">reason groups as of <span data-k="reasonsAt">${formatTime(s.reasons.at)}</span> (refreshed in the background)</p>`
    : html`<p class="muted">reason groups: computing…</p>`
  return html`<section class="source" data-source="${key}">
<h2><a href="/logs/${encodeURIComponent(key)}/entries?kind=permanent">${key}</a> <small>${s.label}</small></h2>
<p class="error" data-k="error"${s.error ? '' : html` hidden`}>${s.error ?? ''}</p>
<table class="counts">
<thead><tr><th>pending</th><th>due now</th><th>deferred</th><th>permanent</th><th>corrupt</th><th>oldest failure</th></tr></thead>
<tbody><tr>
${countCell(key, 'pending', c?.pending, 'retry')}${countCell(key, 'due', c?.due)}${countCell(key, 'deferred', c?.deferred)}${countCell(key, 'permanent', c?.permanent, 'permanent')}${countCell(key, 'corrupt', c?.corrupt, 'corrupt')}
<td class="num" data-k="oldest">${formatAge(s.oldestPendingAgeMs)}</td>
</tr></tbody>
</table>
<div data-k="hosts">${c?.hosts && c.hosts.length > 0 ? hostTable(c.hosts) : ''}</div>
${recentFailures(s)}
<div class="reasons" data-k="reasons">${reasons}</div>
</section>`
}

/** Sparklines of new failures (per host for the store), linking to the chart page. */
function recentFailures(s: OverviewSource): Html {
  const f = s.recentFailures
  const link = html`<a href="/logs/${encodeURIComponent(s.key)}/chart?range=24h">failures over time</a>`
  // data-sig: what app.js compares with /api/overview's to know when to fetch a newer drawing.
  const sig = JSON.stringify(f ?? null)
  if (!f) return html`<p class="recent muted" data-k="recent" data-sig="${sig}">new failures: counting… (${link})</p>`
  const hosts = f.hosts && f.hosts.length > 0
    ? html`<table class="hosts recent-hosts"><caption>new failures per host, last 24 h</caption><tbody>${f.hosts.map((h) => html`<tr><td><a href="/logs/${encodeURIComponent(s.key)}/chart?range=24h&amp;host=${encodeURIComponent(h.host)}">${clip(h.host, 100).text}</a></td><td>${sparkline(h.counts, f.buckets, h.host)}</td></tr>`)}</tbody></table>`
    : ''
  return html`<div class="recent" data-k="recent" data-sig="${sig}"><p>new failures, last 24 h: ${sparkline(f.totals, f.buckets, s.key)} · ${link}</p>${hosts}</div>`
}

function hostTable(hosts: NonNullable<NonNullable<OverviewSource['counts']>['hosts']>): Html {
  return html`<table class="hosts"><caption>per host</caption>
<thead><tr><th>host</th><th class="num">pending</th><th class="num">due now</th><th class="num">deferred</th><th class="num">permanent</th><th class="num">corrupt</th></tr></thead>
<tbody>${hosts.map((h) => html`<tr><td>${clip(h.host, 100).text}</td><td class="num">${formatCount(h.pending)}</td><td class="num">${formatCount(h.due)}</td><td class="num">${formatCount(h.deferred)}</td><td class="num">${formatCount(h.permanent)}</td><td class="num">${formatCount(h.corrupt)}</td></tr>`)}</tbody></table>`
}

export function overviewPage(ctx: ServeContext, o: Overview): Html {
  return layout(ctx, {
    title: 'Overview',
    page: 'overview',
    body: html`<h1>Overview <small class="muted">updated <span id="updated">${formatTime(o.at)}</span></small></h1>
${o.sources.map(sourceSection)}`,
  })
}
