/**
 * The package entry exports what users need and no internals: option defaults, segment
 * naming, the envelope parser and the replay engine's class stay private, and the defaults
 * cannot be changed by anyone (they used to be mutable: changing them changed every later
 * open, and the CLI).
 */
import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'
import { Logger } from '../src/index.js'
import { loggerDefaults, replayDefaults } from '../src/base/options.js'
import { PUBLIC_EXPORTS } from './fixtures/public-exports.js'

describe('package entry', () => {
  it('exports exactly the public API', () => {
    expect(Object.keys(api).sort()).toEqual([...PUBLIC_EXPORTS].sort())
  })

  it('Logger has no internal `families` accessor', () => {
    expect('families' in Logger.prototype).toBe(false)
  })
})

describe('defaults', () => {
  it('are frozen: assigning to them throws and changes nothing', () => {
    expect(Object.isFrozen(loggerDefaults)).toBe(true)
    expect(Object.isFrozen(replayDefaults)).toBe(true)
    expect(() => {
      ;(loggerDefaults as { maxRecordSize: number }).maxRecordSize = 1
    }).toThrow(TypeError)
    expect(() => {
      ;(replayDefaults as { maxAttempts: number }).maxAttempts = 1
    }).toThrow(TypeError)
    expect(loggerDefaults.maxRecordSize).toBe(16 * 1024 * 1024)
    expect(replayDefaults.maxAttempts).toBe(5)
  })
})
