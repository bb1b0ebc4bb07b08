/**
 * A growable byte buffer that envelopes are encoded into directly. The writer keeps two
 * (one filling, one being written) so the hot path reuses memory instead of allocating a
 * string or Buffer per record.
 */
export class ByteSink {
  buf: Buffer
  len = 0
  private readonly initial: number

  constructor(initial = 64 * 1024) {
    this.initial = initial
    this.buf = Buffer.allocUnsafe(initial)
  }

  ensure(extra: number): void {
    const need = this.len + extra
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }

  /** Give back memory after a huge record so one 16 MiB payload does not pin 16 MiB forever. */
  reset(): void {
    this.len = 0
    if (this.buf.length > this.initial * 16) this.buf = Buffer.allocUnsafe(this.initial)
  }

  byte(b: number): void {
    if (this.len >= this.buf.length) this.ensure(1)
    this.buf[this.len++] = b
  }

  /** ASCII-only text we generate ourselves (keys, punctuation). */
  ascii(s: string): void {
    this.ensure(s.length)
    this.len += this.buf.write(s, this.len, 'latin1')
  }

  utf8(s: string): void {
    // Worst case 3 bytes per UTF-16 unit; checking first avoids a second pass for the length.
    this.ensure(s.length * 3)
    this.len += this.buf.write(s, this.len, 'utf8')
  }

  /** A non-negative safe integer, written without allocating a string. */
  uint(n: number): void {
    if (n < 10) {
      this.byte(48 + n)
      return
    }
    this.ensure(16)
    let digits = 1
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++
    let pos = this.len + digits - 1
    for (let x = n; ; ) {
      const q = Math.floor(x / 10)
      this.buf[pos--] = 48 + (x - q * 10)
      if (q === 0) break
      x = q
    }
    this.len += digits
  }

  number(n: number): void {
    if (Number.isSafeInteger(n) && n >= 0) this.uint(n)
    else this.ascii(String(n))
  }

  /** A JSON string literal. Strings that need no escaping (the common case) are copied as is. */
  jsonString(s: string): void {
    if (needsEscape(s)) {
      this.utf8(JSON.stringify(s))
      return
    }
    this.ensure(s.length * 3 + 2)
    this.buf[this.len++] = 0x22
    this.len += this.buf.write(s, this.len, 'utf8')
    this.buf[this.len++] = 0x22
  }

  view(): Buffer {
    return this.buf.subarray(0, this.len)
  }
}

export function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // Control chars, quote, backslash, and lone surrogates (JSON.stringify escapes those).
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true
  }
  return false
}
