/**
 * What PostgreSQL text and jsonb columns can hold. Text there is UTF-8 without U+0000, and a
 * JavaScript string is UTF-16 that may carry a lone surrogate (an emoji cut in half by
 * `.slice()`): neither is representable, and one such character in a batch fails the whole
 * statement. Every string the store writes (shipping, settling, requeue) goes through here.
 */

interface WellFormed {
  isWellFormed(): boolean
  toWellFormed(): string
}

/** `s` with U+0000 and lone surrogates replaced by U+FFFD (unchanged, and not copied, when clean). */
export function pgText(s: string): string {
  let out = s
  if (!(out as unknown as WellFormed).isWellFormed()) out = (out as unknown as WellFormed).toWellFormed()
  return out.includes('\u0000') ? out.replace(/\u0000/g, '\uFFFD') : out
}

export function pgTextOrNull(s: string | null | undefined): string | null {
  return s === null || s === undefined ? null : pgText(s)
}
