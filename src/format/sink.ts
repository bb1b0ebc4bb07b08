/**
 * A growable byte buffer that envelopes are encoded into directly. The writer keeps two
 * (one filling, one being written) so the hot path reuses memory instead of allocating a
 * string or Buffer per record.
 */
/** Up to this many UTF-16 units, copying in a JS loop is cheaper than a Buffer#write call. */
const SHORT = 48

export class ByteSink {
  buf: Buffer
  len = 0

  constructor(private readonly initial = 64 * 1024) {
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
    const n = s.length
    this.ensure(n)
    if (n > SHORT) {
      this.len += this.buf.write(s, this.len, 'latin1')
      return
    }
    // Short strings: a plain loop beats Buffer#write's per-call cost (the hot path writes four
    // keys per record). `& 0xff` keeps latin1's truncation for anything wider.
    const buf = this.buf
    let p = this.len
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i) & 0xff
    this.len = p
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
    if (n < 1e8) {
      this.len = this.digits(this.len, n)
      return
    }
    // Timestamps (13 digits) and other large values: split so both halves use int32 math,
    // which is about twice as fast as dividing doubles. hi < 1e8 for any safe integer.
    const hi = Math.floor(n / 1e8)
    let lo = n - hi * 1e8
    const p = this.digits(this.len, hi)
    const buf = this.buf
    for (let k = p + 7; k >= p; k--) {
      const q = (lo / 10) | 0
      buf[k] = 48 + (lo - q * 10)
      lo = q
    }
    this.len = p + 8
  }

  /** Writes 0 <= x < 1e8 at `at`; returns the position after it. */
  private digits(at: number, x: number): number {
    let d = 1
    for (let t = 10; t <= x; t *= 10) d++
    const buf = this.buf
    let pos = at + d - 1
    do {
      const q = (x / 10) | 0
      buf[pos--] = 48 + (x - q * 10)
      x = q
    } while (x !== 0)
    return at + d
  }

  number(n: number): void {
    if (Number.isSafeInteger(n) && n >= 0) this.uint(n)
    else this.ascii(String(n))
  }

  /** A JSON string literal. Strings that need no escaping (the common case) are copied as is. */
  jsonString(s: string): void {
    const n = s.length
    if (n <= SHORT) {
      // Short plain-ASCII strings (reasons, ids, keys, enum-like values): check and copy in one
      // pass without calling into Buffer#write; anything else takes the general path below.
      this.ensure(n + 2)
      const buf = this.buf
      let p = this.len
      buf[p++] = 0x22
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) break
        buf[p++] = c
      }
      if (i === n) {
        buf[p++] = 0x22
        this.len = p
        return
      }
    }
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
