/**
 * An inspector job whose function throws before it returns a promise fails like one that
 * rejects: it is not left 'running', and the next job on the same log may start.
 */
import { describe, expect, it } from 'vitest'
import { Jobs } from '../../src/serve/jobs.js'

describe('a job that throws at once', () => {
  it('fails, and frees its source for the next job', async () => {
    const jobs = new Jobs()
    const job = jobs.start('orders', 'requeue', () => {
      throw new Error('bad filter')
    })
    await expect.poll(() => jobs.get(job.id)?.state).toBe('failed')
    expect(jobs.get(job.id)?.error).toMatchObject({ error: expect.stringMatching(/bad filter/) })
    const next = jobs.start('orders', 'purge', async () => ({ count: 0 }))
    await expect.poll(() => jobs.get(next.id)?.state).toBe('done')
  })

  it('run() rethrows it to the request', async () => {
    const jobs = new Jobs()
    await expect(
      jobs.run('orders', 'requeue', () => {
        throw new Error('stale')
      }),
    ).rejects.toThrow(/stale/)
  })
})
