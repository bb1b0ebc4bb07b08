/**
 * The entry page's repair parts: the payload editor (with --allow-writes; /static/edit.js
 * drives it: validation as one types, the preview, apply) and the audit records that name
 * the entry (its own changes, and the repair that made it).
 */
import type { AuditRecord } from '../../format/edit.js'
import type { ServeContext } from '../context.js'
import { entryStamp, notEditable } from '../edit.js'
import type { Source } from '../backend-source.js'
import type { SourceEntry } from '../sources.js'
import { clip, formatTime } from './format.js'
import { EMPTY, type Html, html } from './html.js'

/** The editor's script, loaded by the entry page's head when writes are enabled (it does nothing without the panel). */
export const EDIT_SCRIPT = '/static/edit.js'

export function editPanel(ctx: ServeContext, source: Source, e: SourceEntry): Html {
  if (!ctx.allowWrites || e.kind === 'corrupt') return EMPTY
  const why = notEditable(source, e)
  if (why !== undefined) return html`<h2>Edit payload</h2><p class="muted" id="edit-unavailable">Not editable here: ${why}.</p>`
  const key = encodeURIComponent(source.key)
  return html`<section id="edit" class="edit" data-api="/api/logs/${key}/edit" data-ref="${e.ref}" data-stamp="${entryStamp(e)}" data-list="/logs/${key}/entries?kind=retry${e.id !== undefined ? `&id=${encodeURIComponent(e.id)}` : ''}">
<h2>Edit payload</h2>
<p class="muted">Repair, then redrive: the edited payload goes back to the retry log as a new entry that points at this one (<code>editOf</code>), attempts reset; this entry leaves the ${e.kind} log. The change is written to the audit trail with your reason.</p>
<textarea id="edit-payload" spellcheck="false" rows="14" aria-label="payload (JSON)">${JSON.stringify(e.payload ?? null, null, 2)}</textarea>
<p id="edit-status" class="muted" aria-live="polite">valid JSON</p>
<label class="why">why (required) <input type="text" id="edit-why" maxlength="1000" placeholder="what was wrong with the data"></label>
<label class="check"><input type="checkbox" id="edit-force"> force (move it even if it was requeued as often as the loop guard allows)</label>
<div class="bar"><button type="button" id="edit-preview" disabled>Preview</button> <button type="button" id="edit-apply" disabled>Apply</button></div>
<pre id="edit-diff" class="diff" hidden></pre>
<p id="edit-result" class="result" hidden></p>
</section>`
}

function patchCell(r: AuditRecord): Html {
  if (!r.patch) return html`<span class="muted">—</span>`
  return html`<code>${clip(JSON.stringify(r.patch), 2000).text}</code>`
}

export function auditSection(records: AuditRecord[]): Html {
  if (records.length === 0) return EMPTY
  return html`<h2>Audit trail</h2>
<table class="audit" id="audit"><thead><tr><th>when</th><th>change</th><th>who</th><th>why</th><th>where it was</th><th>patch</th></tr></thead>
<tbody>${records.map(
    (r) => html`<tr data-run="${r.run}"><td>${formatTime(r.at)}</td><td>${r.op}${r.patch ? ' (repair)' : ''}</td><td>${clip(r.actor, 200).text}</td><td>${r.why === null ? '' : clip(r.why, 1000).text}</td><td>${clip(r.location.ref, 300).text}${r.location.host !== undefined ? ` on ${clip(r.location.host, 100).text}` : ''}</td><td>${patchCell(r)}</td></tr>`,
  )}</tbody></table>`
}
