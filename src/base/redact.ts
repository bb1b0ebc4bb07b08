/**
 * Connection strings in text the library shows: pg puts host, user and sometimes the
 * password into its messages, and the CLI and the inspector name the database they use.
 */

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`; also `password=…` pairs. */
export function maskSecrets(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/\s]*@/gi, '$1:***@')
    .replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***')
}

/** Only protocol, host, port and database of a connection string: enough to say where, nothing secret. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`
  } catch {
    return 'the database'
  }
}
