/** The login form and the error page. */
import type { ServeContext } from '../context.js'
import { type Html, html } from './html.js'
import { layout } from './layout.js'

export function loginPage(next: string, failed: boolean): Html {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · dletter</title><link rel="stylesheet" href="/static/app.css"></head>
<body data-page="login">
<main class="login">
<h1>dletter inspector</h1>
${failed ? html`<p class="error" role="alert">That token is not the one this server was started with.</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="next" value="${next}">
<label>Token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button type="submit">Log in</button>
</form>
<p class="muted">The token given to <code>dletter serve --token</code>. Scripts can send it as <code>Authorization: Bearer …</code> instead.</p>
</main>
</body>
</html>`
}

export function errorPage(ctx: ServeContext, status: number, message: string): Html {
  return layout(ctx, {
    title: `Error ${status}`,
    page: 'error',
    body: html`<h1>${status === 404 ? 'Not found' : status < 500 ? 'Bad request' : 'Something went wrong'}</h1>
<p class="error" role="alert">${message}</p>
<p><a href="/">Back to the overview</a></p>`,
  })
}
