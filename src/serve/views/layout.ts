/** The page frame: one stylesheet and one script, both same-origin files (the CSP allows nothing else). */
import type { ServeContext } from '../context.js'
import { type Html, html } from './html.js'

export interface PageOptions {
  title: string
  body: Html
  /** Which source the page is about (highlighted in the navigation). */
  current?: string
  /** The page name app.js dispatches on. */
  page: string
  /** Same-origin scripts of this page besides app.js (the payload editor's). */
  scripts?: string[]
}

export function layout(ctx: ServeContext, o: PageOptions): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · dletter</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
${(o.scripts ?? []).map((src) => html`<script src="${src}" defer></script>
`)}</head>
<body data-page="${o.page}" data-writes="${ctx.allowWrites ? '1' : '0'}">
<header class="top">
<a class="brand" href="/">dletter inspector</a>
<nav>${ctx.sources.map(
    (s) => html`<a href="/logs/${encodeURIComponent(s.key)}/entries?kind=permanent"${s.key === o.current ? html` class="current"` : ''} title="${s.label}">${s.key}</a>`,
  )}</nav>
<span class="mode ${ctx.allowWrites ? 'writes' : 'readonly'}">${ctx.allowWrites ? 'writes enabled' : 'read-only'}</span>
${ctx.token ? html`<form method="post" action="/logout" class="logout"><button type="submit">Log out</button></form>` : ''}
</header>
<main>
${o.body}
</main>
</body>
</html>`
}
