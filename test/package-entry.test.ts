/**
 * The built package, loaded the way users load it: `import` everywhere, and `require()` on
 * Node >= 20.19 (which can require ES modules; the package is ESM-only). Builds dist/ into a
 * temp directory and installs it there by symlink, so the repository's dist/ is not touched.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PUBLIC_EXPORTS } from './fixtures/public-exports.js'

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const pkgJson = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
  exports: Record<string, Record<string, string> | string>
  engines: { node: string }
  files: string[]
  dependencies: Record<string, string>
  license: string
}

describe('package.json', () => {
  it('"." resolves to the same ESM file for import and for every other condition (require included)', () => {
    const dot = pkgJson.exports['.'] as Record<string, string>
    expect(Object.keys(dot)[0]).toBe('types')
    expect(Object.keys(dot).at(-1)).toBe('default')
    expect(dot.default).toBe(dot.import)
  })

  it('ships a LICENSE matching the license field', () => {
    expect(pkgJson.license).toBe('MIT')
    expect(pkgJson.files).toContain('LICENSE')
    const text = fs.readFileSync(path.join(repo, 'LICENSE'), 'utf8')
    expect(text).toMatch(/^MIT License/)
    expect(text).toContain('Copyright (c) 2026 dletter contributors')
  })

  it('library dependencies are ranges, not exact pins (the lockfile pins CI)', () => {
    for (const [name, range] of Object.entries(pkgJson.dependencies)) expect(range, name).toMatch(/^\^\d/)
  })
})

const nodeMajorMinor = process.versions.node.split('.').map(Number)
const canRequireEsm = nodeMajorMinor[0] > 20 || (nodeMajorMinor[0] === 20 && nodeMajorMinor[1] >= 19)

describe('the built package', () => {
  let root: string
  let app: string
  beforeAll(() => {
    // One build for every test here: tmpDir() would remove it after the first test.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'dlq-pkg-'))
    const pkg = path.join(root, 'pkg')
    app = path.join(root, 'app')
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true })
    execFileSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(repo, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist')], { stdio: 'pipe' })
    for (const f of ['package.json', 'LICENSE']) fs.copyFileSync(path.join(repo, f), path.join(pkg, f))
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(pkg, 'node_modules'))
    fs.symlinkSync(pkg, path.join(app, 'node_modules', 'dletter'))
  }, 240_000)
  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true })
  })

  const run = (args: string[]): string => execFileSync(process.execPath, args, { cwd: app, encoding: 'utf8' })

  it('import { … } from "dletter" gives the public API', () => {
    const out = run(['--input-type=module', '-e', "import * as d from 'dletter'; process.stdout.write(JSON.stringify(Object.keys(d).sort()))"])
    expect(JSON.parse(out)).toEqual([...PUBLIC_EXPORTS].sort())
  })

  it.runIf(canRequireEsm)('require("dletter") works on Node >= 20.19 and gives the same API', () => {
    const out = run(['-e', "const d = require('dletter'); process.stdout.write(JSON.stringify([Object.keys(d).sort(), typeof d.Logger.open]))"])
    expect(JSON.parse(out)).toEqual([[...PUBLIC_EXPORTS].sort(), 'function'])
  })
})
