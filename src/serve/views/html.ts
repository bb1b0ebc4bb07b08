/**
 * hono's `html` template escapes every interpolated string (& < > " '), flattens arrays and
 * passes nested templates through. Nothing here ever interpolates a promise, so the result
 * is typed as the synchronous string it is.
 */
import { html as honoHtml } from 'hono/html'
import type { HtmlEscapedString } from 'hono/utils/html'

export type Html = HtmlEscapedString

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  return honoHtml(strings, ...values) as Html
}

export const EMPTY: Html = html``
