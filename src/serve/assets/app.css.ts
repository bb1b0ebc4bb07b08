/** The stylesheet, served as /static/app.css (no build step; the CSP allows only same-origin styles). */
export const APP_CSS = `
:root { --fg: #1d2430; --muted: #6b7380; --line: #d9dde3; --bg: #f6f7f9; --card: #fff; --accent: #2458d6; --bad: #b42318; --ok: #157f3b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { display: flex; gap: 1.2em; align-items: center; padding: .6em 1.2em; background: #1d2430; color: #fff; }
header.top a { color: #dfe6f5; }
header.top .brand { font-weight: 700; color: #fff; }
header.top nav { display: flex; gap: .8em; flex: 1; overflow-x: auto; }
header.top nav a.current { color: #fff; border-bottom: 2px solid #fff; }
.mode { font-size: 12px; padding: .15em .6em; border-radius: 1em; }
.mode.readonly { background: #39404d; }
.mode.writes { background: #8a4b00; }
.logout button { background: transparent; color: #dfe6f5; border: 1px solid #5a6272; }
main { padding: 1em 1.2em 3em; max-width: 1400px; }
h1 { font-size: 20px; margin: .3em 0 .6em; }
h1 small, h2 small { font-weight: 400; color: var(--muted); font-size: 13px; margin-left: .4em; word-break: break-all; }
h2 { font-size: 16px; margin: 1.2em 0 .5em; }
.muted { color: var(--muted); }
.error { color: var(--bad); background: #fdecea; border: 1px solid #f5c2bd; padding: .5em .8em; border-radius: 4px; white-space: pre-wrap; word-break: break-word; }
section.source { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .8em 1em 1em; margin-bottom: 1.2em; }
section.source h2 { margin-top: 0; }
table { border-collapse: collapse; background: var(--card); }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: #3b4350; background: #eef0f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.counts td { font-size: 22px; font-weight: 600; min-width: 6.5em; }
table.counts th { font-size: 12px; text-align: right; }
table caption { text-align: left; font-weight: 600; padding: .6em 0 .3em; }
.reasons { display: flex; gap: 2em; flex-wrap: wrap; }
.reasons > p { flex-basis: 100%; margin: .2em 0; }
td.reason, td.payload { max-width: 38em; word-break: break-word; white-space: pre-wrap; }
td.payload code { font-size: 12px; }
td.id { max-width: 14em; word-break: break-all; }
td.time { white-space: nowrap; }
nav.tabs { display: flex; gap: .3em; margin-bottom: .8em; }
nav.tabs a { padding: .35em .9em; border: 1px solid var(--line); border-radius: 4px 4px 0 0; background: #eef0f3; }
nav.tabs a.current { background: var(--card); font-weight: 600; }
form.filter { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: end; background: var(--card); border: 1px solid var(--line); padding: .7em .8em; border-radius: 6px; }
form.filter label { display: flex; flex-direction: column; font-size: 12px; color: #3b4350; }
form.filter label.check { flex-direction: row; align-items: center; gap: .3em; }
input, select, button { font: inherit; }
input[type=text], input[type=password], select { padding: .3em .4em; border: 1px solid #b9c0ca; border-radius: 4px; min-width: 11em; }
input.short { min-width: 4em; width: 5em; }
button { padding: .35em .9em; border: 1px solid #9aa3b0; background: #fff; border-radius: 4px; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
button.danger { border-color: #d7a29c; color: var(--bad); }
.actions { margin: 1em 0; padding: .7em .8em; border: 1px solid #e3c48f; background: #fffaf0; border-radius: 6px; }
.actions .bar { display: flex; gap: .6em; align-items: center; flex-wrap: wrap; }
.confirm { margin-top: .6em; }
.result { margin: .6em 0 0; font-weight: 600; color: var(--ok); white-space: pre-wrap; }
.result.failed { color: var(--bad); }
.edit { margin: 1em 0; padding: .7em .8em; border: 1px solid #e3c48f; background: #fffaf0; border-radius: 6px; }
.edit textarea { width: 100%; font: 12px/1.4 ui-monospace, monospace; padding: .5em; border: 1px solid #b9c0ca; border-radius: 4px; }
.edit textarea[aria-invalid=true] { border-color: var(--bad); }
.edit label { display: block; margin: .4em 0; }
.edit label.why input { width: 100%; }
progress { width: 20em; }
nav.pager { display: flex; gap: 1.2em; margin: 1em 0; }
table.fields th { width: 12em; }
table.fields td { word-break: break-all; }
pre { background: #10151d; color: #e6edf3; padding: .8em 1em; border-radius: 6px; overflow: auto; max-height: 60vh; white-space: pre-wrap; word-break: break-word; }
.more { font-size: 12px; }
main.login { max-width: 26em; margin: 4em auto; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 1.5em; }
main.login label { display: flex; flex-direction: column; gap: .3em; margin-bottom: 1em; }
`
