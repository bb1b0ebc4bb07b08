/**
 * Issue 17 §2: a 'shipped' listener that throws runs inside the background shipper; it must
 * neither end the process (an unhandled rejection did) nor stop shipping. It is reported as a
 * 'warning' of the store, as the Logger reports its listeners. Against a real PostgreSQL, in
 * a child process, so that "the process survives" is what is tested.
 */
import path from 'node:path'
import { expect, it } from 'vitest'
import { exited, forkFixture, killAfterTest } from '../helpers/child.js'
import { tmpDir } from '../helpers/tmp.js'
import { useCluster } from './setup.js'

const pg = useCluster()

it("a throwing 'shipped' listener: the process lives, every round still ships, one warning", async () => {
  const store = await pg.store()
  const schema = (store as unknown as { tables: { schema: string } }).tables.schema
  const logPath = path.join(tmpDir(), 'o.log')
  const child = killAfterTest(forkFixture(path.join('..', 'postgres', 'fixtures', 'shipper-listener-child.ts'), [pg.url, schema, logPath]))
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const result = new Promise<{ rounds: number; total: number; warnings: string[] }>((resolve) => {
    child.on('message', (m: { type: string }) => {
      if (m.type === 'result') resolve(m as never)
    })
  })
  const first = await Promise.race([result, exited(child).then((e) => ({ exit: e }))])
  expect(first, stderr).not.toHaveProperty('exit')
  const r = first as Awaited<typeof result>
  expect((await exited(child)).code, stderr).toBe(0)
  expect(r.rounds).toBeGreaterThanOrEqual(3)
  expect(r.total).toBe(2)
  expect(r.warnings.filter((w) => w.includes("a listener of 'shipped' threw; ignored (listener bug)"))).toHaveLength(1)
}, 120_000)
