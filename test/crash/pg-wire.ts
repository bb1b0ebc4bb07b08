/**
 * What a PostgreSQL COMMIT covered, read off the wire traffic in a strace record: the client
 * stream is cut into requests (a simple Query, or extended-protocol messages up to Sync), each
 * answered by one ReadyForQuery from the server. When a ReadyForQuery says "idle" and no error
 * came back, every id the requests since the last idle point carried is committed — as of the
 * read that delivered it, the moment the client could know.
 */

interface Request {
  ids: Set<string>
  failed: boolean
}

interface Conn {
  client: Buffer
  server: Buffer
  started: boolean
  sslReply: boolean
  acc: Set<string>
  queue: Request[]
  /** Ids of requests answered since the last idle ReadyForQuery. */
  open: Set<string>
}

export class PgWatcher {
  private readonly conns = new Map<string, Conn>()

  constructor(private readonly idPattern: RegExp) {
    if (!idPattern.global) throw new Error('idPattern must be global')
  }

  private conn(sock: string): Conn {
    let c = this.conns.get(sock)
    if (!c) {
      c = { client: Buffer.alloc(0), server: Buffer.alloc(0), started: false, sslReply: false, acc: new Set(), queue: [], open: new Set() }
      this.conns.set(sock, c)
    }
    return c
  }

  private idsIn(body: Buffer, into: Set<string>): void {
    for (const m of body.toString('latin1').matchAll(this.idPattern)) into.add(m[1] ?? m[0])
  }

  fromClient(sock: string, data: Buffer): void {
    const c = this.conn(sock)
    c.client = Buffer.concat([c.client, data])
    for (;;) {
      const b = c.client
      if (!c.started) {
        if (b.length < 8) return
        const len = b.readInt32BE(0)
        if (b.length < len) return
        if (len === 8 && b.readInt32BE(4) === 80877103) c.sslReply = true
        else {
          c.started = true
          c.queue.push({ ids: new Set(), failed: false })
        }
        c.client = b.subarray(len)
        continue
      }
      if (b.length < 5) return
      const len = b.readInt32BE(1)
      if (b.length < 1 + len) return
      const type = String.fromCharCode(b[0]!)
      const body = b.subarray(5, 1 + len)
      c.client = b.subarray(1 + len)
      if (type === 'Q' || type === 'B' || type === 'P') this.idsIn(body, c.acc)
      if (type === 'Q' || type === 'S') {
        c.queue.push({ ids: c.acc, failed: false })
        c.acc = new Set()
      }
    }
  }

  /** Returns the ids committed as of this read. */
  fromServer(sock: string, data: Buffer): string[] {
    const c = this.conn(sock)
    c.server = Buffer.concat([c.server, data])
    const committed: string[] = []
    for (;;) {
      const b = c.server
      if (c.sslReply) {
        if (b.length < 1) break
        c.sslReply = false
        c.server = b.subarray(1)
        continue
      }
      if (b.length < 5) break
      const len = b.readInt32BE(1)
      if (b.length < 1 + len) break
      const type = String.fromCharCode(b[0]!)
      const status = b.length > 5 ? String.fromCharCode(b[5]!) : ''
      c.server = b.subarray(1 + len)
      if (type === 'E' && c.queue[0]) c.queue[0].failed = true
      if (type !== 'Z') continue
      const req = c.queue.shift()
      if (req && !req.failed) for (const id of req.ids) c.open.add(id)
      if (status === 'I') {
        committed.push(...c.open)
        c.open = new Set()
      } else if (status === 'E') c.open = new Set()
    }
    return committed
  }
}
