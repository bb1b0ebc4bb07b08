// The repair of the demo (examples/demo.ts): orders an older checkout sent with the amount as
// text ("12,50") get it as a number. Entries this does not apply to are left as they are
// (undefined); one it cannot read stays in the permanent log, counted with the error.
export default function fixAmount(order) {
  if (typeof order.amountText !== 'string') return undefined
  const amount = Number(order.amountText.replace(',', '.'))
  if (!(amount > 0)) throw new Error(`amountText ${JSON.stringify(order.amountText)} is no amount`)
  const { amountText, ...rest } = order
  return { ...rest, amount }
}
