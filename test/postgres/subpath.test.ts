/**
 * `import { PostgresStore } from 'dletter/postgres'` from the built package, as users load
 * it (dist/ built into a temp directory, installed there by symlink).
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

describe('dletter/postgres subpath export', () => {
  let root: string
  let app: string
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-pgpkg-'))
    const pkg = path.join(root, 'pkg')
    app = path.join(root, 'app')
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true })
    execFileSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(repo, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist')], { stdio: 'pipe' })
    fs.copyFileSync(path.join(repo, 'package.json'), path.join(pkg, 'package.json'))
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(pkg, 'node_modules'))
    fs.symlinkSync(pkg, path.join(app, 'node_modules', 'dletter'))
  }, 240_000)
  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true })
  })

  it('resolves for import, with its types next to it', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "import { PostgresStore } from 'dletter/postgres'; process.stdout.write(typeof PostgresStore.connect)"],
      { cwd: app, encoding: 'utf8' },
    )
    expect(out).toBe('function')
    expect(fs.existsSync(path.join(root, 'pkg', 'dist', 'postgres', 'index.d.ts'))).toBe(true)
  })
})
