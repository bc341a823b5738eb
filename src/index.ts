/**
 * The zapwire package: the client SDK, the protocol v1 codec, the error
 * classes, and the server.
 */
export * from './client/index.js';
export * from './errors.js';
export * from './protocol/index.js';
export type { ServerOptions } from './server/config.js';
export type { ListenAddress, StartOptions } from './server/server.js';
export { ZapwireServer } from './server/server.js';
