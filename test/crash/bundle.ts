/**
 * The explorer starts a process per crash state; under tsx each would spend about a second
 * loading. So the workloads and the recovery script are bundled once into plain JavaScript
 * with esbuild (shipped with tsx, as bench/run.ts does). Packages stay external: the bundle
 * is written under node_modules/.cache, from where Node finds them.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const cache = path.join(here, '..', '..', 'node_modules', '.cache', 'dletter-crash')

export interface Bundle {
  path(script: string): string
  remove(): void
}

/** Bundle `scripts` (paths relative to test/crash). */
export async function bundle(scripts: string[]): Promise<Bundle> {
  const esbuild = await import('esbuild')
  const outdir = path.join(cache, `${process.pid}-${randomBytes(4).toString('hex')}`)
  await esbuild.build({
    entryPoints: scripts.map((s) => path.join(here, s)),
    outdir,
    outbase: here,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  })
  return {
    path: (s) => path.join(outdir, s.replace(/\.ts$/, '.mjs')),
    remove: () => fs.rmSync(outdir, { recursive: true, force: true }),
  }
}
