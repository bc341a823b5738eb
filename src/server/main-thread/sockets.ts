import type { Wire } from './wire.js';

/** How long a refused connection may take to close before it is destroyed. */
const REFUSE_GRACE_MS = 5_000;

/**
 * Closes a connection that is not admitted, after `lastWords` (v1's `09 503`;
 * the legacy protocol has no error answer, so nothing): never a connection
 * left waiting in a queue.
 */
export function refuse(socket: Wire, lastWords?: Buffer): void {
  socket.on('error', () => {});
  // Read and drop whatever the client sends (it usually sends its first
  // request at once): a socket whose input is left unread never sees the
  // client's FIN behind it, so it would stay open forever and keep
  // server.close() waiting. The timer bounds a client that never closes.
  socket.resume();
  if (lastWords) socket.write(lastWords);
  socket.end();
  setTimeout(() => socket.destroy(), REFUSE_GRACE_MS).unref();
}

/** Resolves once every connection (a TCP socket, or a WebSocket's wire) has closed, destroying those still open after `timeoutMs`. */
export async function closeAll(sockets: readonly Wire[], timeoutMs: number): Promise<void> {
  const closing = sockets.map(
    (s) =>
      new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve()))),
  );
  // Destroying a socket that has closed meanwhile does nothing.
  const timer = setTimeout(() => {
    for (const s of sockets) s.destroy();
  }, timeoutMs);
  await Promise.all(closing);
  clearTimeout(timer);
}
