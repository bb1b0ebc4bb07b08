/**
 * Turning stored text into something safe to look at. HTML escaping itself is hono's `html`
 * template's job; this makes the characters that escaping leaves alone visible: control
 * characters (terminal escapes) and bidirectional overrides, which could otherwise make a
 * reason read differently from what it is.
 */

// C0 and C1 controls except tab and newline, DEL, and the Unicode bidi/format controls.
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g

export function visible(s: string): string {
  return s.replace(INVISIBLE, (c) => {
    const code = c.charCodeAt(0)
    // U+2400 block: ␀ ␁ … ␟, and ␡ for DEL: readable and still obviously not the character.
    if (code < 0x20) return String.fromCharCode(0x2400 + code)
    if (code === 0x7f) return '\u2421'
    return `\\u${code.toString(16).padStart(4, '0')}`
  })
}

export interface Clipped {
  text: string
  /** Characters left out; 0 when the whole value is shown. */
  omitted: number
}

/** At most `max` characters, never cutting a surrogate pair in two. */
export function cut(s: string, max: number): Clipped {
  if (s.length <= max) return { text: s, omitted: 0 }
  let end = max
  const c = s.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end--
  return { text: s.slice(0, end), omitted: s.length - end }
}

/** `cut`, made visible: for HTML. */
export function clip(s: string, max: number): Clipped {
  const c = cut(s, max)
  return { text: visible(c.text), omitted: c.omitted }
}

/** A payload as JSON text, whatever it holds (what JSON cannot say is shown as String() says it). */
export function jsonText(value: unknown, indent?: number): string {
  try {
    return JSON.stringify(value, null, indent) ?? 'undefined'
  } catch {
    return String(value)
  }
}

export function formatAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h ${m % 60}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

export function formatTime(ts: number | null | undefined): string {
  if (ts === null || ts === undefined || !Number.isFinite(ts)) return '—'
  return new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US')
}
