/**
 * The one background loop behind dlq.startReplayer and store.startShipper: runs never overlap,
 * stop waits for the run in flight (and aborts it through its signal), and a run that found
 * the replay lock taken is no error — the shipper stays quiet while a local replay holds the
 * lock, as the replayer does, and ships once it is free.
 */
import fs from 'node:fs'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { describe, expect, it } from 'vitest'
import { startLoop } from '../src/base/loop.js'
import { Logger, replay } from '../src/index.js'
import { PostgresStore, type PGliteLike } from '../src/postgres/index.js'
import { logPaths } from '../src/store/segments.js'
import { envLine, until, writeSegment } from './fixtures/counts-util.js'
import { tmpDir } from './helpers/tmp.js'

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void
  const wait = new Promise<void>((r) => (open = r))
  return { wait, open }
}

/** Resolves after `n` turns of the event loop (timers and I/O included), not after a fixed time. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

async function logSome(log: string, n: number): Promise<void> {
  const dlq = await Logger.open(log, { sealPollInterval: 0 })
  for (let i = 0; i < n; i++) await dlq.log({ i }, 'failed')
  await dlq.close()
}

describe('startLoop', () => {
  it('never overlaps runs, even with an interval shorter than a run', async () => {
    let active = 0
    let most = 0
    let runs = 0
    const errors: unknown[] = []
    const stop = startLoop({
      every: 1,
      first: 'now',
      run: async () => {
        runs++
        most = Math.max(most, ++active)
        await turns(20)
        active--
      },
      onError: (e) => errors.push(e),
    })
    await until(() => runs >= 5, 20_000, 'five runs')
    await stop()
    expect(most).toBe(1)
    expect(active).toBe(0)
    expect(errors).toEqual([])
  })

  it('stop aborts the run in flight through its signal and resolves only once it ended; no run after', async () => {
    const g = gate()
    let started = 0
    let ended = false
    let signal: AbortSignal | undefined
    const stop = startLoop({
      every: 1,
      first: 'now',
      run: async (s) => {
        started++
        signal = s
        await g.wait
        ended = true
      },
      onError: () => {},
    })
    await until(() => started === 1, 20_000, 'the first run')
    let stopped = false
    const stopping = stop().then(() => (stopped = true))
    await turns(10)
    expect(signal!.aborted).toBe(true)
    expect(stopped).toBe(false)
    g.open()
    await stopping
    expect(ended).toBe(true)
    await turns(10)
    expect(started).toBe(1)
  })

  it('reports a failed run and goes on; a run refused by the replay lock or a closed owner reports nothing', async () => {
    const errors: unknown[] = []
    const codes = ['DLQ_REPLAY_LOCKED', 'DLQ_CLOSED', 'DLQ_IO', undefined]
    let runs = 0
    const stop = startLoop({
      every: 1,
      first: 'later',
      run: async () => {
        const code = codes[runs++]
        if (runs > codes.length) return
        throw Object.assign(new Error(`run ${runs}`), { code })
      },
      onError: (e) => errors.push(e),
    })
    await until(() => runs > codes.length, 20_000, 'all runs')
    await stop()
    expect(errors.map((e) => (e as Error).message)).toEqual(['run 3', 'run 4'])
  })
})

describe('dlq.startReplayer', () => {
  it('stop waits for the replay in flight, whose summary is reported first', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const dlq = await Logger.open(log, { sealPollInterval: 0 })
    try {
      for (let i = 0; i < 3; i++) await dlq.log({ i }, 'failed')
      const g = gate()
      let calls = 0
      const order: string[] = []
      const stop = dlq.startReplayer(
        async () => {
          calls++
          await g.wait
        },
        { interval: 1, onRun: () => order.push('run') },
      )
      await until(() => calls === 1, 20_000, 'the first handler call')
      const stopping = stop().then(() => order.push('stopped'))
      await turns(10)
      expect(order).toEqual([])
      g.open()
      await stopping
      expect(order).toEqual(['run', 'stopped'])
    } finally {
      await dlq.close()
    }
  })
})

describe('store.startShipper', () => {
  it('raises no error while a local replay holds the lock, then ships; stop waits for the round in flight', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    await logSome(log, 5)
    const db = new PGlite()
    // The real PGlite, with each insert held at a gate when asked to.
    let hold: { wait: Promise<void>; open: () => void } | undefined
    let heldInserts = 0
    const gated: PGliteLike = {
      query: async (text, params) => {
        if (hold && /^\s*INSERT/i.test(text)) {
          heldInserts++
          await hold.wait
        }
        return db.query(text, params)
      },
      transaction: (fn) => db.transaction(fn),
    }
    const store = await PostgresStore.connect(gated, { host: 'h' })
    try {
      const errors: unknown[] = []
      store.on('error', (e) => errors.push(e))
      const shipped: number[] = []
      store.on('shipped', (r) => shipped.push(r.shipped))

      // A local replay holds the replay lock: its handler waits.
      const replayGate = gate()
      let handled = 0
      const running = replay(log, async () => {
        handled++
        await replayGate.wait
        throw new Error('later')
      }, { limit: 1 })
      await until(() => handled === 1, 20_000, 'the replay to hold the lock')

      // Each round that tries the lock writes (and removes) a temp file next to it.
      const lockName = path.basename(logPaths(log).replayLock)
      let tries = 0
      const watcher = fs.watch(dir, (_e, name) => {
        if (name && name.startsWith(`${lockName}.${process.pid}.`) && name.endsWith('.tmp')) tries++
      })
      let stop: (() => Promise<void>) | undefined
      try {
        stop = store.startShipper(log, { interval: 1 })
        await until(() => tries >= 6, 20_000, 'shipper rounds against the held lock')
      } finally {
        watcher.close()
      }
      expect(errors).toEqual([])
      expect(shipped).toEqual([])

      // The replay ends (its one item re-logged): the next round ships everything.
      replayGate.open()
      await running
      await until(() => shipped.some((n) => n > 0), 20_000, 'a round that ships')
      expect(shipped.reduce((a, b) => a + b, 0)).toBe(5)
      expect(errors).toEqual([])

      // A round held inside its insert: stop resolves only once it has finished.
      hold = gate()
      writeSegment(log, 50, [1, 2].map((i) => envLine({ ts: Date.now(), payload: { i } })))
      await until(() => heldInserts > 0, 20_000, 'a round inside its insert')
      let stopped = false
      const stopping = stop!().then(() => (stopped = true))
      await turns(10)
      expect(stopped).toBe(false)
      hold.open()
      await stopping
      expect(shipped.reduce((a, b) => a + b, 0)).toBe(7)
      expect(errors).toEqual([])
    } finally {
      await store.close()
      await db.close()
    }
  }, 60_000)
})
