export type { PendingRequest, Routed } from './answer-queue.js';
export { AnswerQueue, errorFromData } from './answer-queue.js';
export type { BackoffOptions } from './backoff.js';
export { backoffDelay } from './backoff.js';
export type { Identity, ResolvedClientOptions, ZapwireClientOptions } from './client-options.js';
export { DEFAULT_RECONNECT, resolveClientOptions } from './client-options.js';
export type { SeenStore } from './deduplicator.js';
export { DEFAULT_SEEN_CAPACITY, Deduplicator, LruMap, messageKey } from './deduplicator.js';
export type { ChatRef, Delivery, GroupCreated, Message, Receipt } from './deliveries.js';
export { GROUP_CREATED_TEXT, readReceiptText, toDelivery } from './deliveries.js';
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
