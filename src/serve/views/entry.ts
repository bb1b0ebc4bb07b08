/**
 * One entry: its envelope fields, the reason, the payload pretty-printed, and the file and
 * byte offset it lives in. Large values are cut with a link to the whole as plain text.
 */
import path from 'node:path'
import type { ServeContext } from '../context.js'
import type { Source } from '../backend-source.js'
import type { SourceEntry } from '../sources.js'
import { actionPanel } from './actions.js'
import { clip, formatCount, formatTime, jsonText } from './format.js'
import { EMPTY, type Html, html } from './html.js'
import { layout } from './layout.js'
import { HISTORY_LIMIT, timelineOf } from '../../format/lineage.js'
import type { AuditRecord } from '../../format/edit.js'
import { EDIT_SCRIPT, auditSection, editPanel } from './edit.js'

export const REASON_SHOWN = 16 * 1024
export const PAYLOAD_SHOWN = 256 * 1024

function rawLink(key: string, ref: string, part: string, omitted: number): Html {
  if (omitted === 0) return EMPTY
  return html`<p class="more">… ${formatCount(omitted)} more characters: <a href="/logs/${encodeURIComponent(key)}/entry/raw?ref=${encodeURIComponent(ref)}&amp;part=${part}">show all (plain text)</a></p>`
}

function fields(e: SourceEntry): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['log', e.kind],
    ['file', e.file],
    ['byte offset', String(e.offset)],
    ['recorded', `${formatTime(e.ts)} (${e.ts})`],
  ]
  if (e.host !== undefined) out.push(['host', e.host])
  if (e.id !== undefined) out.push(['id', e.id])
  if (e.kind !== 'corrupt') out.push(['attempt', String(e.attempt)])
  if (e.firstTs !== undefined) out.push(['first failed', formatTime(e.firstTs)])
  if (e.dueTs !== undefined) out.push(['next attempt due', formatTime(e.dueTs)])
  if (e.final !== undefined) out.push(['final', e.final])
  if (e.errorName !== undefined) out.push(['error name', e.errorName])
  if (e.errorCode !== undefined) out.push(['error code', e.errorCode])
  if (e.redrives !== undefined) out.push(['requeued', `${e.redrives} time${e.redrives === 1 ? '' : 's'}`])
  if (e.origin?.host !== undefined) out.push(['written on', `${e.origin.host}: ${e.origin.log ?? '?'}`])
  if (e.origin?.segment !== undefined) out.push(['quarantined from', `${e.origin.segment} @ ${e.origin.offset ?? '?'} (${e.origin.length ?? '?'} bytes)`])
  if (e.rawEncoding !== undefined) out.push(['raw encoding', e.rawEncoding])
  if (e.rawTruncated !== undefined) out.push(['raw truncated', e.rawTruncated ? 'yes: the quarantined bytes below are the start of the line' : 'no'])
  if (e.rawFile !== undefined) out.push(['whole line kept in', e.rawFile])
  out.push(['reason group', e.fingerprint])
  return out
}

const STEP = { first: 'first failure', earlier: 'attempt', current: 'last attempt' } as const

/** The attempts, oldest first: the first failure, the kept history, the current one (src/format/lineage.ts). */
function timeline(e: SourceEntry): Html {
  if (e.kind === 'corrupt') return EMPTY
  const steps = timelineOf(e)
  if (steps.length < 2) return EMPTY
  return html`<h2>Timeline</h2>
<table class="timeline" id="timeline"><tr><th>when</th><th></th><th>attempt</th><th>reason</th><th>error</th></tr>${steps.map((s) => {
    const reason = clip(s.reason ?? '(no reason)', 2000)
    const error = [s.errorName, s.errorCode].filter((x) => x !== undefined).join(' ')
    return html`<tr data-step="${s.step}"><td>${formatTime(s.ts)}</td><td>${STEP[s.step]}</td><td>${s.attempt ?? ''}</td><td>${reason.text}${reason.omitted > 0 ? html` <span class="muted">… ${formatCount(reason.omitted)} more</span>` : ''}</td><td>${error}</td></tr>`
  })}</table>
${e.history !== undefined && e.history.length >= HISTORY_LIMIT ? html`<p class="muted">Earlier attempts beyond the last ${HISTORY_LIMIT} are not kept; the first failure always is.</p>` : EMPTY}`
}

function actions(ctx: ServeContext, source: Source, e: SourceEntry): Html {
  if (!ctx.allowWrites || e.kind !== 'permanent' || e.id === undefined) return EMPTY
  const filter = JSON.stringify({ kind: e.kind, id: e.id })
  return actionPanel(
    `/api/logs/${encodeURIComponent(source.key)}`,
    filter,
    html`<p class="muted">Acts on every entry of the permanent log with this id (the dry run counts them first).</p>
<div class="bar">
<button type="button" data-op="requeue" data-scope="all">Requeue this entry</button>
<label class="check"><input type="checkbox" id="reset-attempts"> reset attempts</label>
<button type="button" data-op="purge" data-scope="all" class="danger">Purge this entry</button>
</div>`,
  )
}

export function entryPage(ctx: ServeContext, source: Source, e: SourceEntry, audit: AuditRecord[] = []): Html {
  const key = source.key
  const listHref = `/logs/${encodeURIComponent(key)}/entries?kind=${e.kind}`
  const reason = e.reason === null ? null : clip(e.reason, REASON_SHOWN)
  const payload = e.kind === 'corrupt' ? clip(e.raw ?? '', PAYLOAD_SHOWN) : clip(jsonText(e.payload, 2), PAYLOAD_SHOWN)
  const body = html`<p><a href="${listHref}">← ${key}: ${e.kind} log</a></p>
<h1>Entry <small>${clip(path.basename(e.file), 200).text} @ ${e.offset}</small></h1>
<table class="fields">${fields(e).map(([k, v]) => {
    const c = clip(v, 2000)
    return html`<tr><th>${k}</th><td>${c.text}${c.omitted > 0 ? html` <span class="muted">… ${formatCount(c.omitted)} more</span>` : ''}</td></tr>`
  })}</table>
${e.id !== undefined
    ? html`<p>Records with this id: <a href="/logs/${encodeURIComponent(key)}/entries?kind=retry&amp;id=${encodeURIComponent(e.id)}">retry log</a> · <a href="/logs/${encodeURIComponent(key)}/entries?kind=permanent&amp;id=${encodeURIComponent(e.id)}">permanent log</a></p>`
    : EMPTY}
${timeline(e)}
<h2>Reason</h2>
${reason === null ? html`<p class="muted">(no reason recorded)</p>` : html`<pre class="reason" id="reason">${reason.text}</pre>${rawLink(key, e.ref, 'reason', reason.omitted)}`}
<h2>${e.kind === 'corrupt' ? 'Quarantined bytes' : 'Payload'}</h2>
<pre class="payload" id="payload">${payload.text}</pre>
${rawLink(key, e.ref, 'payload', payload.omitted)}
<p class="muted"><a href="/logs/${encodeURIComponent(key)}/entry/raw?ref=${encodeURIComponent(e.ref)}&amp;part=line">the stored line, as plain text</a></p>
${auditSection(audit)}
${actions(ctx, source, e)}
${editPanel(ctx, source, e)}`
  return layout(ctx, { title: `${key} entry`, page: 'entry', current: key, body, scripts: ctx.allowWrites ? [EDIT_SCRIPT] : [] })
}
