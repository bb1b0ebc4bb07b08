/**
 * The server's own plans, for the plan tests: EXPLAIN's JSON tree flattened, and every plan the
 * sessions opened during `fn` ran, as auto_explain logged them.
 */
import fs from 'node:fs'
import path from 'node:path'
import type pg from 'pg'
import type { ClusterRef } from './setup.js'

export interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  'Index Cond'?: string
  'Actual Rows'?: number
  'Rows Removed by Filter'?: number
  Plans?: PlanNode[]
}

export const nodes = (p: PlanNode): PlanNode[] => [p, ...(p.Plans ?? []).flatMap(nodes)]

/**
 * Runs `fn` with auto_explain on for sessions opened from now on (open them inside `fn`) and
 * returns the plans they logged: the server log is read from where it stood before.
 */
export async function loggedPlans(admin: Pick<pg.Client, 'query'>, cluster: ClusterRef, fn: () => Promise<void>): Promise<{ 'Query Text': string; Plan: PlanNode }[]> {
  const log = path.join(cluster.cluster.dir, 'server.log')
  const from = fs.statSync(log).size
  const settings = { session_preload_libraries: `'auto_explain'`, 'auto_explain.log_min_duration': '0', 'auto_explain.log_format': `'json'` }
  // The module's settings are known to ALTER SYSTEM only once it is loaded.
  await admin.query(`LOAD 'auto_explain'`)
  for (const [k, v] of Object.entries(settings)) await admin.query(`ALTER SYSTEM SET ${k} = ${v}`)
  await admin.query(`SELECT pg_reload_conf()`)
  try {
    await fn()
  } finally {
    for (const k of Object.keys(settings)) await admin.query(`ALTER SYSTEM RESET ${k}`)
    await admin.query(`SELECT pg_reload_conf()`)
  }
  const lines = fs.readFileSync(log, 'utf8').slice(from).split('\n')
  const plans: { 'Query Text': string; Plan: PlanNode }[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.endsWith('plan:')) continue
    let json = ''
    while (i + 1 < lines.length && lines[i + 1]!.startsWith('\t')) json += lines[++i]
    plans.push(JSON.parse(json))
  }
  return plans
}
