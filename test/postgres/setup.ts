/**
 * Shared by the test/postgres files: one throwaway cluster per file (started in beforeAll,
 * removed in afterAll) and a fresh schema per store, so tests never see each other's rows.
 */
import { afterAll, beforeAll } from 'vitest'
import { PostgresStore } from '../../src/postgres/index.js'
import type { ConnectOptions } from '../../src/postgres/options.js'
import { type Cluster, startCluster } from './cluster.js'

export interface ClusterRef {
  readonly url: string
  readonly cluster: Cluster
  /** A store on a schema of its own; closed after the file. */
  store(opts?: ConnectOptions): Promise<PostgresStore>
}

let schemaSeq = 0

export function useCluster(): ClusterRef {
  let cluster: Cluster | undefined
  const stores: PostgresStore[] = []
  beforeAll(async () => {
    cluster = await startCluster()
  }, 120_000)
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {})
    cluster?.destroy()
  }, 60_000)
  return {
    get url() {
      return cluster!.url
    },
    get cluster() {
      return cluster!
    },
    async store(opts: ConnectOptions = {}) {
      const s = await PostgresStore.connect(cluster!.url, { schema: `t${process.pid}_${++schemaSeq}`, host: 'host-a', ...opts })
      stores.push(s)
      return s
    },
  }
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}
