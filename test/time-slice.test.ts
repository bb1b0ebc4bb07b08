/**
 * Loops that give the event loop back (src/base/time-slice.ts) take turns through one queue: each
 * turn of the loop runs at most one of their slices, however many are waiting, so the rest
 * of the process gets the loop back after every slice.
 */
import { expect, it } from 'vitest'
import { yieldToLoop } from '../src/base/time-slice.js'

it('one slice per turn of the event loop, whatever the number of loops yielding', async () => {
  const events: string[] = []
  let stop = false
  const turn = () => {
    events.push('turn')
    if (!stop) setImmediate(turn)
  }
  setImmediate(turn)
  const loop = async (name: string) => {
    for (let i = 0; i < 5; i++) {
      events.push(name)
      await yieldToLoop()
    }
  }
  await Promise.all([loop('a'), loop('b'), loop('c')])
  stop = true
  // The three first slices run at the call, before any yield; from the first turn on, a turn
  // separates any two slices, and the loops go round in order.
  const afterStart = events.slice(events.indexOf('turn'))
  const slices = afterStart.filter((e) => e !== 'turn')
  expect(slices).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c'])
  for (let i = 1; i < afterStart.length; i++) {
    if (afterStart[i] !== 'turn') expect(afterStart[i - 1], afterStart.join(' ')).toBe('turn')
  }
})
