/** The replay engine lives in src/replay/; this path keeps existing imports working. */
export * from './replay/index.js'
