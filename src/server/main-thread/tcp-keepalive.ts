/**
 * TCP keepalive for every accepted socket (v1, legacy, HTTP), as listener
 * options. docs/protocol.md §Limits: sessions are never closed for being idle, so
 * a peer that vanished without a FIN (a phone that lost its network, a
 * crashed NAT) is found by the kernel instead: the first probe after a
 * minute of silence, then Linux's defaults (9 probes 75 s apart).
 */
export const TCP_KEEPALIVE_DELAY_MS = 60_000;

/** `net.createServer` / `http.createServer` options that turn keepalive on for each accepted socket. */
export const TCP_KEEPALIVE = {
  keepAlive: true,
  keepAliveInitialDelay: TCP_KEEPALIVE_DELAY_MS,
} as const;
