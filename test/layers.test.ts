/**
 * src/ is built in layers that import only downward, with no import cycle. Type imports count:
 * a type-only cycle (logger.ts ↔ diagnostics.ts/retention.ts through the event types) is what
 * this replaced. Lowest first:
 *
 *   base ← format ← store ← replay ← write;  admin and postgres sit on store;
 *   the entry points (src/index.ts, src/postgres/index.ts) on all of those;
 *   the faces cli/ and serve/ call the library only through base, format and the entry points
 *   (cli also starts serve/server.ts).
 *
 * FACE_EDGES lists the face imports that still reach past the entry points: an edge removed
 * from the code must leave the list too, so the list only shrinks.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type DependencyTree, parseCircular, parseDependencyTree } from 'dpdm'
import { beforeAll, describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const ENTRY_POINTS = new Set(['src/index.ts', 'src/postgres/index.ts'])

/** Which layers each layer may import (itself included). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  base: ['base'],
  format: ['base', 'format'],
  store: ['base', 'format', 'store'],
  // Replay is below write: the Logger starts replays (Logger.replay, startReplayer).
  replay: ['base', 'format', 'store', 'replay'],
  write: ['base', 'format', 'store', 'replay', 'write'],
  admin: ['base', 'format', 'store', 'admin'],
  postgres: ['base', 'format', 'store', 'postgres'],
  entry: ['base', 'format', 'store', 'replay', 'write', 'admin', 'postgres', 'entry'],
  cli: ['base', 'format', 'cli', 'entry'],
  serve: ['base', 'format', 'serve', 'entry'],
}

/** None left: the faces reach the library through the entry points only. */
const FACE_EDGES: readonly string[] = []

/** src/index.ts and src/postgres/index.ts are 'entry'; any other file is its first folder's layer. */
function layerOf(file: string): string | undefined {
  if (ENTRY_POINTS.has(file)) return 'entry'
  const parts = file.split('/')
  return parts.length > 2 && parts[1] in MAY_IMPORT ? parts[1] : undefined
}

function allowed(from: string, to: string): boolean {
  const a = layerOf(from)
  const b = layerOf(to)
  if (a === undefined || b === undefined) return false
  if (MAY_IMPORT[a].includes(b)) return true
  return a === 'cli' && to === 'src/serve/server.ts'
}

describe('src/ layers', () => {
  let tree: DependencyTree
  let edges: Array<[string, string]>

  beforeAll(async () => {
    // transform: false keeps `import type` edges; dynamic import() edges are kept too.
    tree = await parseDependencyTree('src/**/*.ts', { cwd: ROOT, context: ROOT, transform: false, skipDynamicImports: false })
    edges = []
    for (const deps of Object.values(tree)) {
      for (const d of deps ?? []) if (d.id?.startsWith('src/')) edges.push([d.issuer, d.id])
    }
  }, 60_000)

  it('sees every source file, each in a layer, and resolves every import', () => {
    const files = Object.keys(tree).filter((f) => f.startsWith('src/'))
    expect(files.length).toBeGreaterThan(100)
    expect(files.filter((f) => layerOf(f) === undefined)).toEqual([])
    const unresolved = Object.values(tree).flatMap((deps) => (deps ?? []).filter((d) => d.id === null).map((d) => `${d.issuer}: ${d.request}`))
    expect(unresolved).toEqual([])
    // dpdm skips an import marked @dpdm-ignore: none may hide from this test.
    expect(files.filter((f) => fs.readFileSync(path.join(ROOT, f), 'utf8').includes('@dpdm-ignore'))).toEqual([])
  })

  it('has no import cycle', () => {
    expect(parseCircular(tree).map((c) => [...c, c[0]].join(' -> '))).toEqual([])
  })

  it('imports only downward; the face edges still allowed are exactly FACE_EDGES', () => {
    const violations = [...new Set(edges.filter(([a, b]) => !allowed(a, b)).map(([a, b]) => `${a} -> ${b}`))].sort()
    const listed = new Set(FACE_EDGES)
    expect.soft(violations.filter((v) => !listed.has(v)), 'imports against the layer order').toEqual([])
    expect.soft(FACE_EDGES.filter((v) => !violations.includes(v)), 'FACE_EDGES entries no longer in the code: remove them from the list').toEqual([])
  })
})
