import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
export { exited } from '../../helpers/child.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const faultFixtures = path.join(here, '..', 'fixtures')

/** Fork a fault-suite fixture under tsx with an IPC channel; stderr is kept for diagnostics. */
export function forkFault(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess & { stderrText: () => string } {
  const child = fork(path.join(faultFixtures, name), args, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  }) as ChildProcess & { stderrText: () => string }
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 64 * 1024) err += d.toString()
  })
  child.stdout?.resume()
  child.stderrText = () => err
  return child
}

/** Resolves with the first IPC message satisfying `pred`; rejects if the child exits first or on timeout. */
export function waitMessage<T = any>(child: ChildProcess, pred: (m: any) => boolean, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no matching message from child within ${timeoutMs} ms`)), timeoutMs)
    const onMsg = (m: any) => {
      if (pred(m)) done(undefined, m)
    }
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`child exited (code ${code}, signal ${signal}) before the expected message`))
    function done(err?: Error, m?: T) {
      clearTimeout(timer)
      child.off('message', onMsg)
      child.off('exit', onExit)
      if (err) reject(err)
      else resolve(m as T)
    }
    child.on('message', onMsg)
    child.once('exit', onExit)
  })
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
