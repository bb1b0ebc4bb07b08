/** A byte count as people read it in messages: exact units when they divide evenly (16 MiB, 512 KiB). */
export function sizeText(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`
  }
  return `${n} bytes`
}
