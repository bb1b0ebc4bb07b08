/** The request-sharing helpers behind /metrics and the overview. */
import { describe, expect, it } from 'vitest'
import { Limiter, Memo } from '../../src/serve/cache.js'

describe('Memo', () => {
  it('shares one computation and reuses it until the TTL passes', async () => {
    let now = 0
    let calls = 0
    const m = new Memo(1000, async () => ++calls, () => now)
    expect(await Promise.all([m.get(), m.get(), m.get()])).toEqual([1, 1, 1])
    now = 999
    expect(await m.get()).toBe(1)
    now = 1000
    expect(await m.get()).toBe(2)
  })

  it('after invalidate() computes afresh, and drops a computation started before it', async () => {
    let calls = 0
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const m = new Memo(60_000, async () => {
      const n = ++calls
      if (n === 1) await gate
      return n
    })
    const early = m.get()
    m.invalidate()
    expect(await m.get()).toBe(2)
    release()
    expect(await early).toBe(1)
    // The value computed before the change is not the one kept.
    expect(await m.get()).toBe(2)
    m.invalidate()
    expect(await m.get()).toBe(3)
  })

  it('does not keep a failure', async () => {
    let calls = 0
    const m = new Memo(60_000, async () => {
      if (++calls === 1) throw new Error('boom')
      return calls
    })
    await expect(m.get()).rejects.toThrow('boom')
    expect(await m.get()).toBe(2)
  })
})

describe('Limiter', () => {
  it('never runs more than its limit at once, and runs everything in order', async () => {
    const l = new Limiter(2)
    let running = 0
    let peak = 0
    const order: number[] = []
    const gates: Array<() => void> = []
    const tasks = [0, 1, 2, 3, 4].map((i) =>
      l.run(async () => {
        running++
        peak = Math.max(peak, running)
        order.push(i)
        await new Promise<void>((r) => gates.push(r))
        running--
        return i
      }),
    )
    for (let k = 0; k < 5; k++) {
      await new Promise((r) => setImmediate(r))
      gates.shift()?.()
    }
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4])
    expect(order).toEqual([0, 1, 2, 3, 4])
    expect(peak).toBe(2)
  })

  it('a waiting task whose signal aborts leaves the queue', async () => {
    const l = new Limiter(1)
    let release!: () => void
    const first = l.run(() => new Promise<void>((r) => (release = r)))
    const ac = new AbortController()
    const second = l.run(async () => 'ran', ac.signal)
    ac.abort(new Error('gone'))
    await expect(second).rejects.toThrow('gone')
    release()
    await first
    expect(await l.run(async () => 'next')).toBe('next')
  })
})
