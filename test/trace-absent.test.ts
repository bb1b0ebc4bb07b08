/**
 * Without `@opentelemetry/api` (an optional peer dependency) everything works as before:
 * a child process in which the package cannot be resolved logs and replays with tracing on,
 * records no trace field and reports nothing about it.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { tmpDir } from './helpers/tmp.js'
import { fixturesDir } from './helpers/child.js'
import { repoRoot } from './fixtures/cli-util.js'

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tsx = pathToFileURL(path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href
  const noOtel = pathToFileURL(path.join(fixturesDir, 'no-otel.mjs')).href
  const child = spawn(process.execPath, ['--import', noOtel, '--import', tsx, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('without @opentelemetry/api', () => {
  it('logs and replays as before: no trace field, no warning', async () => {
    const log = path.join(tmpDir(), 'orders.log')
    const r = await run([path.join(fixturesDir, 'trace-absent-child.ts'), log])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { importError: string; api: string; lines: string; seen: number[]; summary: { delivered: number; warnings: string[] } }
    // The package really is out of reach in that process.
    expect(out.importError).toBe('ERR_MODULE_NOT_FOUND')
    expect(out.api).toBe('absent')
    expect(out.lines).toMatch(/^\{"ts":\d+,"attempt":1,"reason":"failed","id":"a","payload":\{"n":1\}\}\n$/)
    expect(out.seen).toEqual([1])
    expect(out.summary).toMatchObject({ delivered: 1, warnings: [] })
  })
})
