/**
 * jsonbRefusal (src/postgres/pg-text.ts) against the real server: whatever it lets through,
 * jsonb holds; what it refuses is what jsonb refuses (or, for numbers and depth, a
 * conservative margin inside the limits) — never a look-alike inside a string.
 */
import fc from 'fast-check'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JSONB_MAX_DEPTH, jsonbRefusal } from '../../src/postgres/pg-text.js'
import { useCluster } from './setup.js'

const cluster = useCluster()
let client: pg.Client

beforeAll(async () => {
  client = new pg.Client({ connectionString: cluster.url })
  await client.connect()
})
afterAll(async () => {
  await client?.end()
})

async function serverHolds(json: string): Promise<boolean> {
  try {
    await client.query('SELECT $1::jsonb IS NULL', [json])
    return true
  } catch (err) {
    if (!/^(22|54)/.test((err as { code?: string }).code ?? '')) throw err
    return false
  }
}

const nest = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`
const nestObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

// [text, refused by the check, held by the server]
const CASES: Array<[string, boolean, boolean]> = [
  ['{"a":1,"b":[true,null,"x"]}', false, true],
  ['"\\u0000"', true, false],
  ['"a\\\\u0000"', false, true], // an escaped backslash, then the letters u0000
  ['"\\\\\\u0000"', true, false],
  ['"\\ud83d\\ude00"', false, true],
  ['"\\uD83D\\uDE00 ok"', false, true],
  ['"\\ud83d"', true, false],
  ['"\\ude00"', true, false],
  ['"\\ud83dx"', true, false],
  ['"\\ud83d\\ud83d"', true, false],
  ['"\\ud83d\\n"', true, false],
  ['"\\\\ud83d"', false, true],
  ['"\\u00e9\\u2028"', false, true],
  ['1e9999', false, true],
  ['1E+09999', false, true],
  ['-1e-9999', false, true],
  ['1e10000', true, true], // numeric holds it: sent as text, a margin
  ['1e200000', true, false],
  ['-1e-200000', true, false],
  ['0e-16384', true, false],
  [`1${'0'.repeat(998)}`, false, true],
  [`1${'0'.repeat(999)}`, true, true],
  [`1${'0'.repeat(998)}.5`, false, true],
  [`1${'0'.repeat(131072)}`, true, false],
  [`0.${'0'.repeat(998)}1`, false, true],
  [`0.${'0'.repeat(16383)}1`, true, false],
  [`"${'1'.repeat(2000)}e123456"`, false, true],
  ['{"k":"1e123456"}', false, true],
  [nest(JSONB_MAX_DEPTH), false, true],
  [nest(JSONB_MAX_DEPTH + 1), true, true],
  [nestObjects(JSONB_MAX_DEPTH + 1), true, true],
  [nest(100_000), true, false],
  [nestObjects(20_000), true, false],
  [`"${'['.repeat(5000)}"`, false, true],
  [`[${Array.from({ length: 3000 }, () => '[{}]').join(',')}]`, false, true],
  [nest(600, `"${'{'.repeat(3000)}\\"\\\\"`), false, true],
]

describe('jsonbRefusal', () => {
  it.each(CASES.map(([text, refused, held]) => ({ text, refused, held, name: text.length > 40 ? `${text.slice(0, 30)}… (${text.length})` : text })))(
    '$name',
    async ({ text, refused, held }) => {
      expect(() => JSON.parse(text)).not.toThrow()
      expect(jsonbRefusal(text) !== undefined).toBe(refused)
      expect(await serverHolds(text)).toBe(held)
    },
  )

  it('never lets through what the server refuses (random hostile JSON)', async () => {
    const seed = Number(process.env.DLQ_SEED ?? Date.now() % 1_000_000)
    console.log(`jsonbRefusal property seed: ${seed} (DLQ_SEED=${seed} to repeat)`)
    const numberToken = fc.oneof(
      fc.integer().map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
      fc.tuple(fc.constantFrom('', '-'), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 1200 }), fc.integer({ min: 0, max: 1200 }), fc.constantFrom('e', 'E', 'e+', 'e-', 'E-'), fc.integer({ min: 0, max: 200_000 })).map(
        ([sign, lead, ints, fracs, e, exp]) => `${sign}${lead}${'0'.repeat(ints)}${fracs > 0 ? `.${'7'.repeat(fracs)}` : ''}${exp % 3 === 0 ? '' : `${e}${exp}`}`,
      ),
    )
    // Binary strings carry lone surrogates and U+0000, which JSON.stringify writes as escapes.
    const stringToken = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('\\u0000', '[[[', '1e99999', '\ud83d', '\\')).map((s) => JSON.stringify(s))
    const { value } = fc.letrec<{ value: string }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        numberToken,
        stringToken,
        fc.array(tie('value'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
        fc.array(fc.tuple(stringToken, tie('value')), { maxLength: 4 }).map((kv) => `{${kv.map(([k, v]) => `${k}:${v}`).join(',')}}`),
        fc.tuple(fc.integer({ min: 0, max: 16_000 }), tie('value')).map(([d, v]) => nest(d, v)),
      ),
    }))
    await fc.assert(
      fc.asyncProperty(value, async (text) => {
        if (jsonbRefusal(text) === undefined) expect(await serverHolds(text)).toBe(true)
      }),
      { seed, numRuns: 300 },
    )
  }, 120_000)
})
