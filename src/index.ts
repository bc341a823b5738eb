/**
 * The zapwire package's public API: the client SDK (README §The client SDK),
 * the error family (src/errors.ts), and the server with its options. Nothing
 * else: the codec, the store and the threads' plumbing are internal, free to
 * change without a major version.
 */
export * from './client/index.js';
export * from './errors.js';
export type { ServerOptions } from './server/config.js';
export type { FlowStats, ListenAddress, StartOptions } from './server/server.js';
export { ZapwireServer } from './server/server.js';
