/**
 * `handlerTimeout`, shared by local and central replay: a call not settled in time counts as a
 * failure, so one hung call cannot hold a replay (and its lock or lease) forever. The call itself
 * cannot be cancelled and may still complete later: at-least-once.
 */
export function isThenable(r: unknown): r is PromiseLike<unknown> {
  return r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as PromiseLike<unknown>).then === 'function'
}

/** `result` itself when it is not a promise or there is no limit; otherwise it raced against `ms`. */
export function boundedCall(result: unknown, ms: number | undefined): unknown {
  if (ms === undefined || !isThenable(result)) return result
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`handler did not settle within ${ms} ms`)
      err.name = 'TimeoutError'
      reject(err)
    }, ms)
  })
  return Promise.race([result, timeout]).finally(() => clearTimeout(timer))
}
