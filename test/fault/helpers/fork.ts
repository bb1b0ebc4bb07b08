import { fork, spawn, type ChildProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
export { exited } from '../../helpers/child.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const faultFixtures = path.join(here, '..', 'fixtures')

/** An unprivileged user, for fixtures that need permissions to bite (CI runs the tests as root). */
export const NOBODY = 65534

/**
 * Fork a fault-suite fixture under tsx with an IPC channel; stderr is kept for diagnostics.
 * `asUser`: run it as that uid/gid, with its own HOME (tsx keeps a cache under it).
 */
export function forkFault(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, asUser?: number): ChildProcess & { stderrText: () => string } {
  const child = fork(path.join(faultFixtures, name), args, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...(asUser !== undefined ? { HOME: os.tmpdir() } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    ...(asUser !== undefined ? { uid: asUser, gid: asUser } : {}),
  }) as ChildProcess & { stderrText: () => string }
  return keepStderr(child)
}

/**
 * Like forkFault, under a limit of `fdLimit` open descriptors (`ulimit -n`, soft and hard), so
 * that a fixture can run the process out of them for real (EMFILE) without a huge table to fill.
 */
export function forkFaultWithFdLimit(name: string, args: string[], fdLimit: number): ChildProcess & { stderrText: () => string } {
  const child = spawn('/bin/sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, '--import', 'tsx', path.join(faultFixtures, name), ...args], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  }) as ChildProcess & { stderrText: () => string }
  return keepStderr(child)
}

function keepStderr(child: ChildProcess & { stderrText: () => string }): ChildProcess & { stderrText: () => string } {
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

/** The fixture's `{ type: 'result' }` message; a failure carries the child's stderr. */
export function resultOf<T>(child: ChildProcess & { stderrText: () => string }, timeoutMs: number): Promise<T> {
  return waitMessage<T>(child, (m) => m.type === 'result', timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message}: ${child.stderrText()}`)
  })
}
