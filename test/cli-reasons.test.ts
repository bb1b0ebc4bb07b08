/** How `dletter stats` groups failure reasons: variable parts normalized, the rest kept. */
import { describe, expect, it } from 'vitest'
import { fingerprint as normalizeReason } from '../src/format/fingerprint.js'

describe('normalizeReason', () => {
  it('folds numbers, so one failure mode is one group', () => {
    expect(normalizeReason('timeout after 3012ms')).toBe('timeout after <n>ms')
    expect(normalizeReason('timeout after 2981ms')).toBe('timeout after <n>ms')
    expect(normalizeReason('503 Service Unavailable, retry in 1.5 s')).toBe('<n> Service Unavailable, retry in <n> s')
  })

  it('folds uuids, hex ids, timestamps and IPv4 addresses', () => {
    expect(normalizeReason('order 5f2a9c1e-1234-4abc-8def-0123456789AB not found')).toBe('order <uuid> not found')
    expect(normalizeReason('object 507f1f77bcf86cd799439011 missing')).toBe('object <hex> missing')
    expect(normalizeReason('lease 0xdeadbeef01 expired')).toBe('lease <hex> expired')
    expect(normalizeReason('expired at 2025-11-22T06:38:05.123Z')).toBe('expired at <time>')
    expect(normalizeReason('connect ECONNREFUSED 10.0.3.17:5432')).toBe('connect ECONNREFUSED <ip>:<n>')
  })

  it('keeps words that merely look like hex, and plain numbers stay numbers', () => {
    expect(normalizeReason('deadbeefcafe is a word here')).toBe('deadbeefcafe is a word here')
    expect(normalizeReason('code 12345678')).toBe('code <n>')
  })

  it('names a missing reason and trims whitespace', () => {
    expect(normalizeReason(null)).toBe('(no reason)')
    expect(normalizeReason('  too   many\n spaces ')).toBe('too many spaces')
  })
})
