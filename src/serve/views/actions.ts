/**
 * The requeue/purge panel of the entries and entry pages: their buttons, then the parts
 * public/app.js drives (the dry-run confirmation, progress, the result line). One markup, so
 * the script finds the same ids on both pages.
 */
import { type Html, html } from './html.js'

/** `api`: the source's API root; `filter`: the JSON filter the buttons act on. */
export function actionPanel(api: string, filter: string, body: Html): Html {
  return html`<section id="actions" class="actions" data-api="${api}" data-filter="${filter}">
${body}
<div id="confirm" class="confirm" hidden><p id="confirm-text"></p><button type="button" id="confirm-yes">Confirm</button> <button type="button" id="confirm-no">Cancel</button></div>
<div id="progress" hidden><progress max="1" value="0"></progress> <span id="progress-text"></span></div>
<p id="result" class="result" hidden></p>
</section>`
}
