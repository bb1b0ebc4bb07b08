import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

const here = path.dirname(fileURLToPath(import.meta.url))
export const fixturesDir = path.join(here, '..', 'fixtures')

/** Fork a TypeScript fixture under tsx with an IPC channel. */
export function forkFixture(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return fork(path.join(fixturesDir, name), args, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
}

/** Resolves with the exit code or signal once the child is gone. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

/** The child's next IPC message; rejects if it exits first. */
export function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = () => reject(new Error('child exited without a message'))
    child.once('message', (m) => {
      child.off('exit', onExit)
      resolve(m as T)
    })
    child.once('exit', onExit)
  })
}

const running: ChildProcess[] = []

/** `child`, SIGKILLed (if still running) and waited for after the current test, whatever its outcome. */
export function killAfterTest<C extends ChildProcess>(child: C): C {
  running.push(child)
  return child
}

afterEach(async () => {
  for (const c of running.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await exited(c)
  }
})
