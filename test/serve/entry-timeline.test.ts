/**
 * The inspector's entry page shows an entry's lineage: a timeline of its attempts (the first
 * failure, the kept history, the last attempt) with their reasons and error codes, how often
 * it was requeued and where it was written; an entry without lineage shows no timeline.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { writeLines } from '../fixtures/cli-util.js'
import { get, serve } from './helpers.js'

describe('inspector entry page: lineage', () => {
  it('shows the attempts as a timeline, oldest first, with the redrives and the origin', async () => {
    const dir = tmpDir()
    const log = path.join(dir, 'orders.log')
    const withLineage = {
      ts: 5000, attempt: 4, reason: 'still failing 1008', id: 'a', firstTs: 1000, errorCode: 'E1008', final: 'exhausted',
      firstReason: { reason: 'timeout after 3000ms', errorCode: 'ETIMEDOUT' },
      // The first attempt fell out of the kept history: the timeline starts with firstReason.
      history: [{ ts: 2000, attempt: 2, reason: 'upstream returned <b>503</b>', errorCode: 'E503' }, { ts: 3000, attempt: 3, reason: 'card declined' }],
      redrives: 2, origin: { host: 'pod-7', log: '/var/lib/app/orders.log' }, payload: { order: 1 },
    }
    const plain = { ts: 6000, attempt: 5, reason: 'plain', id: 'b', final: 'exhausted', payload: 2 }
    writeLines(path.join(dir, 'permanent-orders.000000000001.log'), [JSON.stringify(withLineage), JSON.stringify(plain)])
    const s = await serve({ logs: [log] })
    const entries = (await get(s, '/api/logs/orders/entries?log=permanent')).json().entries as Array<{ id: string; ref: string }>
    const page = async (id: string) => (await get(s, `/logs/orders/entry?ref=${encodeURIComponent(entries.find((e) => e.id === id)!.ref)}`)).text
    const html = await page('a')
    const timeline = html.slice(html.indexOf('id="timeline"'), html.indexOf('</table>', html.indexOf('id="timeline"')))
    const steps = [...timeline.matchAll(/<tr data-step="(\w+)">(.*?)<\/tr>/g)].map((m) => [m[1], m[2]])
    expect(steps.map((x) => x[0])).toEqual(['first', 'earlier', 'earlier', 'current'])
    expect(steps[0]![1]).toContain('timeout after 3000ms')
    expect(steps[0]![1]).toContain('ETIMEDOUT')
    // Reasons are text, escaped like every other stored value.
    expect(steps[1]![1]).toContain('upstream returned &lt;b&gt;503&lt;/b&gt;')
    expect(steps[3]![1]).toContain('still failing 1008')
    expect(html).toContain('<th>requeued</th><td>2 times</td>')
    expect(html).toContain('<th>written on</th><td>pod-7: /var/lib/app/orders.log</td>')
    const plainHtml = await page('b')
    expect(plainHtml).not.toContain('id="timeline"')
    expect(plainHtml).not.toContain('<th>requeued</th>')
  })
})
