/**
 * A filter over one log: the form, the failure groups of what matches (loaded by app.js:
 * counting them is a scan), one page of entries, and, with --allow-writes, the actions.
 */
import type { ServeContext } from '../context.js'
import type { EntryRow } from '../entry-row.js'
import type { GroupBy } from '../groups.js'
import { type FilterParams, MAX_PAGE_SIZE, type PageParams, filterQuery } from '../query.js'
import type { Source } from '../backend-source.js'
import { actionPanel } from './actions.js'
import { clip, formatCount, formatTime } from './format.js'
import { EMPTY, type Html, html } from './html.js'
import { layout } from './layout.js'

export interface EntriesView {
  source: Source
  filter: FilterParams
  page: PageParams
  rows: EntryRow[]
  more: boolean
  /** Bad input: shown above the form (the page is then a 400). */
  error?: string
  /** The filter resolved (absolute times), as the actions send it back. */
  actionFilter?: Record<string, unknown>
  /** How the groups panel groups: by last reason (the default) or first. */
  groupBy?: GroupBy
}

/** `groupBy` as links keep it: absent for the default. */
function groupByParam(v: EntriesView): { groupBy?: string } {
  return v.groupBy === 'first' ? { groupBy: 'first' } : {}
}

const LOGS = [
  ['retry', 'Retry (pending)'],
  ['permanent', 'Permanent'],
  ['corrupt', 'Corrupt'],
] as const

function base(key: string): string {
  return `/logs/${encodeURIComponent(key)}`
}

function tabs(v: EntriesView): Html {
  return html`<nav class="tabs">${LOGS.map(
    ([log, label]) => html`<a href="${base(v.source.key)}/entries?${new URLSearchParams({ kind: log, ...groupByParam(v) }).toString()}"${v.filter.kind === log ? html` class="current"` : ''}>${label}</a>`,
  )}</nav>`
}

function field(name: string, label: string, value: string | number | undefined, extra: Html = EMPTY, type = 'text'): Html {
  return html`<label>${label} <input type="${type}" name="${name}" value="${value ?? ''}"${extra}></label>`
}

function form(v: EntriesView): Html {
  const f = v.filter
  return html`<form method="get" action="${base(v.source.key)}/entries" class="filter" id="filter">
<input type="hidden" name="kind" value="${f.kind}">
${field('reason', 'reason', f.reason, html` placeholder="text, or a regex"`)}
<label class="check"><input type="checkbox" name="re" value="1"${f.re ? html` checked` : ''}> regex</label>
${f.kind === 'corrupt' ? '' : field('id', 'id', f.id)}
${field('payload', 'payload contains', f.payload)}
${v.source.hasHosts ? field('host', 'host', f.host) : ''}
${f.kind === 'corrupt' ? '' : field('attempt', 'attempt ≥', f.attempt, html` inputmode="numeric" class="short"`)}
${field('since', 'since', f.since, html` placeholder="2h or 2025-11-01T12:00 (UTC)"`)}
${field('until', 'until', f.until, html` placeholder="30m or an ISO date (UTC)"`)}
<label>order <select name="order">
<option value="newest"${v.page.order === 'newest' ? html` selected` : ''}>newest first</option>
<option value="oldest"${v.page.order === 'oldest' ? html` selected` : ''}>oldest first</option>
</select></label>
<label>group by <select name="groupBy" id="group-by">
<option value="last"${v.groupBy !== 'first' ? html` selected` : ''}>last reason</option>
<option value="first"${v.groupBy === 'first' ? html` selected` : ''}>first reason</option>
</select></label>
<label>per page <select name="size">${[20, 50, 100, MAX_PAGE_SIZE].map((n) => html`<option value="${n}"${v.page.size === n ? html` selected` : ''}>${n}</option>`)}</select></label>
<button type="submit">Filter</button> <a href="${base(v.source.key)}/entries?${new URLSearchParams({ kind: f.kind, ...groupByParam(v) }).toString()}">clear</a>
</form>`
}

function actions(ctx: ServeContext, v: EntriesView): Html {
  if (!ctx.allowWrites || v.filter.kind === 'retry') {
    return v.filter.kind === 'retry' || ctx.allowWrites
      ? EMPTY
      : html`<p class="muted">Read-only: start <code>dletter serve</code> with <code>--allow-writes</code> to requeue or purge from here.</p>`
  }
  const perm = v.filter.kind === 'permanent'
  return actionPanel(
    `/api${base(v.source.key)}`,
    JSON.stringify(v.actionFilter ?? {}),
    html`<div class="bar">
${perm ? html`<button type="button" data-op="requeue" data-scope="selected" disabled>Requeue selected</button>
<button type="button" data-op="requeue" data-scope="all">Requeue all matching</button>
<label class="check"><input type="checkbox" id="reset-attempts"> reset attempts</label>` : ''}
${perm ? html`<button type="button" data-op="purge" data-scope="selected" class="danger" disabled>Purge selected</button>` : ''}
<button type="button" data-op="purge" data-scope="all" class="danger">Purge all matching</button>
</div>`,
  )
}

function row(ctx: ServeContext, v: EntriesView, r: EntryRow): Html {
  const selectable = ctx.allowWrites && v.filter.kind === 'permanent' && r.id !== undefined
  const href = `${base(v.source.key)}/entry?ref=${encodeURIComponent(r.ref)}`
  const reason = r.reason === null ? html`<span class="muted">(no reason)</span>` : clip(r.reason, 300).text
  const more = (n: number) => (n > 0 ? html` <a class="more" href="${href}">… ${formatCount(n)} more</a>` : '')
  return html`<tr>
<td>${selectable ? html`<input type="checkbox" class="sel" value="${r.id}" aria-label="select">` : ''}</td>
<td class="time"><a href="${href}">${formatTime(r.ts)}</a></td>
${v.source.hasHosts ? html`<td>${clip(r.host ?? '', 60).text}</td>` : ''}
<td class="id">${r.id === undefined ? html`<span class="muted">—</span>` : clip(r.id, 80).text}</td>
<td class="num">${r.attempt}</td>
<td class="reason">${reason}${more(r.reasonOmitted)}</td>
<td class="payload"><code>${clip(r.payload, 200).text}</code>${more(r.payloadOmitted)}</td>
<td>${v.filter.kind === 'retry' ? formatTime(r.dueTs) : r.final ?? ''}</td>
</tr>`
}

function pager(v: EntriesView): Html {
  const link = (page: number, label: string) =>
    html`<a href="${base(v.source.key)}/entries?${filterQuery(v.filter, { order: v.page.order, size: v.page.size, page, ...groupByParam(v) })}">${label}</a>`
  return html`<nav class="pager">
${v.page.page > 1 ? link(v.page.page - 1, '← previous') : ''}
<span>page ${v.page.page}</span>
${v.more ? link(v.page.page + 1, 'next →') : ''}
</nav>`
}

export function entriesPage(ctx: ServeContext, v: EntriesView): Html {
  const key = v.source.key
  const qs = filterQuery(v.filter)
  const groupsQs = filterQuery(v.filter, groupByParam(v))
  const body = html`<h1>${key} <small>${v.source.label}</small></h1>
${tabs(v)}
${form(v)}
${v.error ? html`<p class="error" role="alert">${v.error}</p>` : EMPTY}
${v.error ? EMPTY : html`<section id="groups" class="groups-panel" data-src="/api${base(key)}/groups?${groupsQs}">
<h2>Groups</h2><p class="muted">counting the matching entries… (<a href="/api${base(key)}/groups?${groupsQs}">as JSON</a>)</p>
</section>
${actions(ctx, v)}
<h2>Entries</h2>
<p class="export"><a href="/api${base(key)}/export?${qs}" download>Export NDJSON</a> <span class="muted">(every matching entry, oldest first)</span></p>
${v.rows.length === 0 ? html`<p class="muted" id="no-entries">No entries match.</p>` : html`<table class="entries" id="entries">
<thead><tr><th></th><th>time (UTC)</th>${v.source.hasHosts ? html`<th>host</th>` : ''}<th>id</th><th class="num">attempt</th><th>reason</th><th>payload</th><th>${v.filter.kind === 'retry' ? 'due' : 'final'}</th></tr></thead>
<tbody>${v.rows.map((r) => row(ctx, v, r))}</tbody>
</table>`}
${pager(v)}`}`
  return layout(ctx, { title: `${key} · ${v.filter.kind}`, page: 'entries', current: key, body })
}
