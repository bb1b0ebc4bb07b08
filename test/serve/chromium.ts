/**
 * A real Chromium for the serve tests: Debian's /usr/bin/chromium driven by playwright-core,
 * in a fresh profile closed and removed after each test. It collects page errors and console
 * errors, and Content-Security-Policy violations (a listener the browser injects itself, so the
 * policy does not apply to it).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type BrowserContext, type Page, chromium } from 'playwright-core'
import { afterEach } from 'vitest'

export const CHROMIUM = '/usr/bin/chromium'
export const HAS_CHROMIUM = fs.existsSync(CHROMIUM)
// Waits on a condition (never a fixed sleep); generous for a loaded CI machine.
export const POLL = { timeout: 30_000 }
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

let open: { ctx: BrowserContext; dir: string } | undefined

afterEach(async () => {
  if (!open) return
  await open.ctx.close()
  fs.rmSync(open.dir, { recursive: true, force: true })
  open = undefined
})

export interface OpenBrowser {
  page: Page
  /** Messages of dialogs (each dismissed). */
  dialogs: string[]
  /** Page errors and console errors (the favicon the browser asks for by itself aside). */
  errors: string[]
  /** CSP violations so far: `<directive> <blocked URI>`. */
  violations: () => Promise<string[]>
}

export async function browser(): Promise<OpenBrowser> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dletter-chromium-'))
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } })
  open = { ctx, dir }
  await ctx.addInitScript({
    content: "window.__csp = []; document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI) })",
  })
  const page = ctx.pages()[0] ?? (await ctx.newPage())
  const dialogs: string[] = []
  const errors: string[] = []
  page.on('dialog', (d) => {
    dialogs.push(d.message())
    void d.dismiss()
  })
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) errors.push(m.text())
  })
  return { page, dialogs, errors, violations: () => page.evaluate('window.__csp') as Promise<string[]> }
}
