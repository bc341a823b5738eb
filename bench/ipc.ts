/**
 * Messages between the benchmark parent (bench/run.ts) and its child
 * processes (bench/server-process.ts, bench/load-generator.ts), declared in one
 * place like src/server/threads/thread-messages.ts. Every request carries `rid`; the
 * child answers with the same `rid`.
 */

import type { ServerOptions } from '../src/server/config.js';
import type { BrokerStats } from '../src/server/threads/thread-messages.js';

export interface Identity {
  number: string;
  token: string;
}

// ---- server process ---------------------------------------------------------

export type ServerRequest =
  | { t: 'start'; rid: number; options: Partial<ServerOptions> }
  | { t: 'sample'; rid: number }
  /** The OS thread ids of the JavaScript threads the server started (its Workers), in creation order. */
  | { t: 'threads'; rid: number }
  | { t: 'stop'; rid: number };

/** One reading of the server's counters, taken inside the server's process. */
export interface ServerSample {
  /** ms, performance.timeOrigin + performance.now() (comparable across processes). */
  at: number;
  stats: BrokerStats;
  /** process.cpuUsage(), microseconds, all threads of the server process. */
  cpuUser: number;
  cpuSystem: number;
  rss: number;
  /** Connections the v1 listener holds. */
  sessions: number;
}

export type ServerReply =
  | { t: 'ready'; rid: number; port: number; httpPort?: number; legacyPort?: number }
  | { t: 'threads'; rid: number; jsThreads: number[] }
  | { t: 'sample'; rid: number; sample: ServerSample }
  | { t: 'stopped'; rid: number }
  | { t: 'failed'; rid: number; message: string };

// ---- load generators ---------------------------------------------------------

/** How a recipient session gets its messages. */
export type SessionKind = 'push' | 'poll' | 'sender';

export type GeneratorRequest =
  /** Registers `count` users over TCP (pipelined 01 frames on a few connections). */
  | { t: 'register'; rid: number; port: number; count: number }
  /** Opens one long session per identity; `concurrency` connects at a time. */
  | {
      t: 'open';
      rid: number;
      port: number;
      kind: SessionKind;
      identities: Identity[];
      concurrency: number;
      timeoutMs: number;
    }
  /** Poll sessions start sending 03 every intervalMs (random phase). */
  | { t: 'start-polling'; rid: number; intervalMs: number }
  /** The original model: every intervalMs each identity connects, 04, 03, 08, closes. */
  | { t: 'start-original'; rid: number; port: number; identities: Identity[]; intervalMs: number }
  /**
   * Senders send 05 to `targets` round robin: at `rate` messages/s (this
   * process's share), or keeping `window` 05 unanswered per sender connection.
   */
  | {
      t: 'load';
      rid: number;
      targets: string[];
      durationMs: number;
      rate?: number;
      window?: number;
    }
  /** Stops polling and original-model loops. */
  | { t: 'stop-polling'; rid: number }
  /** Zeroes histograms and counters (start of a measurement window). */
  | { t: 'reset'; rid: number }
  | { t: 'collect'; rid: number }
  | { t: 'close'; rid: number };

export interface Collected {
  /** 06 frames read that were new (not a redelivery). */
  received: number;
  duplicates: number;
  /** 05 written, 07 read, 09 read. */
  sent: number;
  stored: number;
  errors: number;
  /** hdr histograms (microseconds), encodeIntoCompressedBase64. */
  latency0506: string;
  latency0507: string;
  /** Sockets this process holds. */
  open: number;
}

export type GeneratorReply =
  | { t: 'registered'; rid: number; identities: Identity[] }
  /** `refused`: 04 answered 503 (no handler ready) and tried again. */
  | {
      t: 'opened';
      rid: number;
      ok: number;
      failed: number;
      refused: number;
      elapsedMs: number;
      connect: string;
    }
  | { t: 'done'; rid: number }
  | { t: 'loaded'; rid: number; sent: number; stored: number; elapsedMs: number }
  | { t: 'collected'; rid: number; collected: Collected }
  | { t: 'failed'; rid: number; message: string }
  | { t: 'progress'; received: number; sent: number; stored: number; open: number };

// ---- chat generators (bench/chat-generator.ts) --------------------------------------

/** The wire a chat generator speaks: zapwire v1 over TCP or over WebSockets (the HTTP port), or MQTT 3.1.1 to a peer broker. */
export type ChatProtocol = 'zapwire' | 'zapwire-ws' | 'mqtt';

/**
 * One pair of users: the sender's connection sends only to the receiver's
 * session. For MQTT the numbers are client ids and the receiver's number names
 * its topic; tokens are unused.
 */
export interface ChatPair {
  sender: Identity;
  receiver: Identity;
}

export type ChatRequest =
  /**
   * Opens every receiver's session (push / subscribed), then every sender's;
   * `concurrency` connects at a time. The receivers connect to
   * `receiverPort` when given (another node of a cluster), else to `port`.
   */
  | {
      t: 'open';
      rid: number;
      protocol: ChatProtocol;
      port: number;
      receiverPort?: number;
      pairs: ChatPair[];
      concurrency: number;
      timeoutMs: number;
    }
  /**
   * Open loop: the run's messages are numbered globally and message j is due
   * at startAt + j * 1000 / totalRate; this process (`slot` of `slots`) sends
   * j = slot, slot + slots, ..., round robin over its senders. Closed loop
   * (`window`): each sender keeps `window` messages unanswered.
   */
  | {
      t: 'load';
      rid: number;
      durationMs: number;
      startAt: number;
      totalRate?: number;
      slot: number;
      slots: number;
      window?: number;
    }
  | { t: 'reset'; rid: number }
  | { t: 'collect'; rid: number }
  /** Closes every connection (the same processes then drive the next system). */
  | { t: 'drop'; rid: number };

export interface ChatCollected {
  /** 05 / PUBLISH written; 07 / PUBACK read; 09 read. */
  sent: number;
  acked: number;
  errors: number;
  /** 06 / PUBLISH read by receivers that were new (not a redelivery). */
  received: number;
  duplicates: number;
  /** hdr histograms (µs), encodeIntoCompressedBase64: 05->06, 05->07, and how late the open loop wrote each message. */
  latency0506: string;
  latency0507: string;
  sendLag: string;
  open: number;
}

export type ChatReply =
  | { t: 'opened'; rid: number; ok: number; failed: number; elapsedMs: number }
  | { t: 'loaded'; rid: number; sent: number; acked: number; elapsedMs: number }
  | { t: 'done'; rid: number }
  | { t: 'collected'; rid: number; collected: ChatCollected }
  | { t: 'failed'; rid: number; message: string }
  | { t: 'progress'; received: number; sent: number; stored: number; open: number };

// ---- the seed-workload client (bench/seed-client.ts) --------------------------------

/** One legacy `05`: from a sender to its recipient. */
export interface SeedPair {
  src: string;
  dst: string;
}

export type SeedRequest =
  /** Registers `count` legacy users (legacy `01`, one connection each), `clients` at a time. */
  | { t: 'register'; rid: number; port: number; count: number; clients: number }
  /** `clients` loops, each: connect, one `05` (half-closed, as the original client), wait for the close; round robin over `pairs` until durationMs. */
  | {
      t: 'sends';
      rid: number;
      port: number;
      pairs: SeedPair[];
      clients: number;
      durationMs: number;
    }
  /**
   * `clients` loops, each: connect, `03` + a number, read until the close. A
   * number whose poll brought rows is polled again later; one answered with a
   * bare `06` is drained. No poll starts after durationMs.
   */
  | {
      t: 'polls';
      rid: number;
      port: number;
      numbers: string[];
      clients: number;
      durationMs: number;
    }
  | { t: 'close'; rid: number };

export interface SeedSends {
  /** Requests that ended with the server's close. */
  sends: number;
  /** Connection errors (the request may or may not have been stored). */
  errors: number;
  /** From the first connect to the last close. */
  elapsedMs: number;
  /** hdr histogram (µs), encodeIntoCompressedBase64: connect to close, per request. */
  latency: string;
}

export interface SeedPolls {
  polls: number;
  /** `06` frames read that were rows (what the poll drained). */
  rows: number;
  /** Polls answered with a bare `06` (nothing pending). */
  empty: number;
  /** Polls whose bytes were not whole `06` frames of this workload's messages to the number polled. */
  malformed: number;
  errors: number;
  /** Whether every number polled ended with a bare `06` before durationMs. */
  drainedAll: boolean;
  elapsedMs: number;
  /** hdr histogram (µs): connect to close, per poll. */
  latency: string;
}

export type SeedReply =
  | { t: 'registered'; rid: number; numbers: string[]; errors: number }
  | { t: 'sent'; rid: number; result: SeedSends }
  | { t: 'polled'; rid: number; result: SeedPolls }
  | { t: 'done'; rid: number }
  | { t: 'failed'; rid: number; message: string }
  | { t: 'progress'; received: number; sent: number; stored: number; open: number };
