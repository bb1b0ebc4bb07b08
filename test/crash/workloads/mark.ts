/**
 * How a workload tells the explorer what it acknowledged: one line on stdout per event,
 * written with a single write(2) so the strace record orders it among the file operations.
 *   ack <id>   log() (or the setup) resolved: the record must survive a power cut from here on
 *   dlv <id>   a replay handler returned for it: delivered
 */
import fs from 'node:fs'

export function mark(tag: 'ack' | 'dlv', id: string): void {
  fs.writeSync(1, `${tag} ${id}\n`)
}
