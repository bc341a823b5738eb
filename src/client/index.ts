/**
 * The client SDK's public surface (README §The client SDK): the client, the
 * types of its options, events and deliveries, and the error a throwing
 * listener causes. The rest of src/client is internal.
 */
export type { BackoffOptions } from './backoff.js';
export type { Identity, ZapwireClientOptions } from './client-options.js';
export type { SeenStore } from './deduplicator.js';
export type { ChatRef, Delivery, GroupCreated, Message, Receipt } from './deliveries.js';
export type {
  ClientState,
  CreateGroupOptions,
  DisconnectInfo,
  NameInfo,
  SendError,
  SendOptions,
  SendResult,
  SessionMode,
  ZapwireClientEvents,
} from './zapwire-client.js';
export { ZapwireClient } from './zapwire-client.js';
