// Quarantine records are read by format/entry.ts, with every other entry decoding.
export { type CorruptRecord, parseCorruptRecord } from '../format/entry.js'
