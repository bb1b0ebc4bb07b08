import fs from 'node:fs'

/** `file`, or `file.1`, `file.2`, … : the first name not taken. */
export function freeName(file: string): string {
  if (!fs.existsSync(file)) return file
  for (let n = 1; ; n++) if (!fs.existsSync(`${file}.${n}`)) return `${file}.${n}`
}
