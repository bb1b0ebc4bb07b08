/**
 * docs/api.md is the one reference: it must name every export of both entry points, every
 * error code and every default as the code has it, and the README (which links to it instead
 * of repeating it) must stay under its size budget. The exports are read with the TypeScript
 * compiler, so a new type export without a heading fails here, not in a user's editor.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import * as baseOptions from '../src/base/options.js'
import { resolveCentralReplayOptions, resolveConnectOptions, resolveShipOptions, resolveShipperOptions } from '../src/postgres/options.js'
import { resolveRedrive } from '../src/postgres/redrive.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ENTRIES = ['src/index.ts', 'src/postgres/index.ts'].map((f) => path.join(root, f))
const README_BUDGET = 15_360

const api = fs.readFileSync(path.join(root, 'docs/api.md'), 'utf8')
const lines = api.split('\n')
const headings = lines.filter((l) => /^#{1,6} /.test(l))

const program = ts.createProgram(ENTRIES, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true })
const checker = program.getTypeChecker()

function exportsOf(file: string): ts.Symbol[] {
  const sf = program.getSourceFile(file)
  if (!sf) throw new Error(`not in the program: ${file}`)
  const mod = checker.getSymbolAtLocation(sf)
  if (!mod) throw new Error(`not a module: ${file}`)
  return checker.getExportsOfModule(mod)
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** A heading names an export when it has it in backticks, alone or as a call (`stats(path, …)`), a member or a generic. */
function hasHeading(name: string): boolean {
  const re = new RegExp('`' + escape(name) + '(`|[(<.])')
  return headings.some((h) => re.test(h))
}

/** The table rows of the section under the heading that names `section`, up to the next heading. */
function sectionRows(section: string): Map<string, string[]> {
  const re = new RegExp('`' + escape(section) + '(`|[(<.])')
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && re.test(l))
  const rows = new Map<string, string[]>()
  if (start < 0) return rows
  for (let i = start + 1; i < lines.length && !/^#{1,6} /.test(lines[i]); i++) {
    const m = /^\| `([A-Za-z]+)` \|(.*)\|\s*$/.exec(lines[i])
    if (m) rows.set(m[1], m[2].split(/(?<!\\)\|/).map((c) => c.trim()))
  }
  return rows
}

const MiB = 1024 * 1024

/** The ways a default may be written in the Default column, each in backticks (`—` alone for "not set"). */
function renderings(key: string, v: unknown): string[] {
  if (v === undefined) return ['—']
  if (v === Date.now) return ['`Date.now`']
  if (v === Math.random) return ['`Math.random`']
  if (typeof v === 'string') return key === 'host' && v === os.hostname() ? ['`os.hostname()`'] : [`\`'${v}'\``]
  if (typeof v === 'boolean') return [`\`${v}\``]
  if (typeof v === 'number') {
    if (/mode$/i.test(key)) return [`\`0o${v.toString(8)}\``]
    const out = [`\`${v}\``]
    if (v >= MiB && v % MiB === 0) out.push(`\`${v / MiB} MiB\``)
    if (v >= 1000 && v % 1000 === 0) out.push(`\`'${v / 1000}s'\``)
    return out
  }
  throw new Error(`no rendering for ${key}: ${String(v)}`)
}

interface DefaultSet {
  name: string
  /** Sections (headings naming these types) whose option tables may hold the key. */
  sections: string[]
  values: Record<string, unknown>
}

/**
 * Where each `*Defaults` object of src/base/options.ts is documented. Every such object is
 * checked, so a new one fails here until it has a section (and its rows).
 */
const BASE_SECTIONS: Record<string, string[]> = {
  loggerDefaults: ['LoggerOptions'],
  replayDefaults: ['ReplayOptions'],
  redriveDefaults: ['RequeueOptions'],
}
const baseDefaults = Object.entries(baseOptions).filter(([name, v]) => name.endsWith('Defaults') && typeof v === 'object' && v !== null)

const shipper = resolveShipperOptions({})
// What store.requeue runs with when given no options (its filter, a function, has no default to document).
const { kind, dryRun, rate, resetAttempts, maxRedrives, signal, onProgress, transform } = resolveRedrive('requeue', {})
const DEFAULT_SETS: DefaultSet[] = [
  ...baseDefaults.map(([name, v]) => ({ name, sections: BASE_SECTIONS[name] ?? [`(no section known for ${name}: add it to BASE_SECTIONS)`], values: { ...(v as object) } })),
  { name: 'startReplayer', sections: ['StartReplayerOptions'], values: (({ replay: _, ...own }) => own)(baseOptions.resolveReplayerOptions({})) },
  { name: 'PostgresStore.connect', sections: ['ConnectOptions'], values: { ...resolveConnectOptions({}) } },
  { name: 'store.ship', sections: ['ShipOptions'], values: { ...resolveShipOptions({}) } },
  { name: 'store.startShipper', sections: ['ShipperOptions'], values: { interval: shipper.interval } },
  { name: 'store.replay', sections: ['CentralReplayOptions'], values: { ...resolveCentralReplayOptions({}) } },
  { name: 'store.requeue', sections: ['RequeueOptions', 'CentralOptions', 'OperationOptions'], values: { kind, dryRun, rate, resetAttempts, maxRedrives, signal, onProgress, transform } },
]

describe('docs/api.md', () => {
  it('checks the defaults of src/base/options.ts', () => {
    expect(baseDefaults.map(([n]) => n)).toEqual(expect.arrayContaining(['loggerDefaults', 'replayDefaults']))
  })

  for (const entry of ENTRIES) {
    const rel = path.relative(root, entry)
    it(`has a heading for every export of ${rel}`, () => {
      const names = exportsOf(entry).map((s) => s.name)
      expect(names.length).toBeGreaterThan(10)
      expect(names.filter((n) => !hasHeading(n))).toEqual([])
    })
  }

  it('says when each DeadLetterErrorCode is raised', () => {
    const sym = exportsOf(ENTRIES[0]).find((s) => s.name === 'DeadLetterErrorCode')
    expect(sym).toBeDefined()
    const alias = checker.getAliasedSymbol(sym!)
    const type = checker.getDeclaredTypeOfSymbol(alias)
    const codes = (type.isUnion() ? type.types : [type]).map((t) => (t as ts.StringLiteralType).value)
    expect(codes.length).toBeGreaterThan(10)
    const missing = codes.filter((c) => {
      const row = lines.find((l) => l.startsWith(`| \`${c}\` |`))
      return row === undefined || row.split('|')[2].trim().length < 10
    })
    expect(missing).toEqual([])
    // And nothing documented that the code cannot raise.
    const documented = lines.map((l) => /^\| `(DLQ_[A-Z_]+)` \|/.exec(l)?.[1]).filter((c): c is string => c !== undefined)
    expect(documented.filter((c) => !codes.includes(c))).toEqual([])
  })

  for (const set of DEFAULT_SETS) {
    it(`gives every ${set.name} option with its default`, () => {
      const tables = set.sections.map(sectionRows)
      const wrong: string[] = []
      for (const [key, value] of Object.entries(set.values)) {
        const row = tables.map((t) => t.get(key)).find((r) => r !== undefined)
        if (!row) {
          wrong.push(`${key}: no row`)
          continue
        }
        // Columns: Type | Default | Meaning.
        const cell = row[1] ?? ''
        const ok = renderings(key, value).some((r) => (r === '—' ? cell.startsWith('—') : cell.includes(r)))
        if (!ok) wrong.push(`${key}: default cell "${cell}", expected one of ${renderings(key, value).join(' ')}`)
      }
      expect(wrong).toEqual([])
    })
  }
})

describe('README.md', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'))
  it(`stays within ${README_BUDGET} bytes`, () => {
    expect(readme.length).toBeLessThanOrEqual(README_BUDGET)
  })
  it('links to the reference', () => {
    expect(readme.toString('utf8')).toContain('(docs/api.md')
  })
})
