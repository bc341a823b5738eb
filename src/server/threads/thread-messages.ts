/**
 * Every message that crosses a thread boundary, declared in one place:
 * nothing else is shared between threads.
 *
 * Threads: main (sockets, the socket writer), session hosts (protocol work of
 * each session, on piscina workers) and the broker (the one SQLite writer and
 * the push router). Each port carries arrays: one postMessage per event-loop
 * turn, whatever the number of messages (measured on the 2-vCPU machine:
 * ~500k one-way messages/s at one per postMessage, ~3.5M frames/s in batches
 * of 64).
 */
import type { MessagePort } from 'node:worker_threads';
import type { DisplayName } from '../../store/store.js';
import type { LogLevel, ServerOptions } from '../config.js';
import type { MetricsJson } from '../metrics/metrics.js';

// ---- main <-> session host -------------------------------------------------

export type HostInbound =
  /** A new connection, hosted from now on by this host. */
  /** `remote` is address:port (for logs), `address` the source address alone (for per-address quotas). */
  | { t: 'open'; sid: number; remote: string; address: string }
  /** Whole 256-byte frames read from the connection, concatenated. */
  | { t: 'frames'; sid: number; bytes: Uint8Array }
  /** The socket can take more (true) or is not draining (false). */
  | { t: 'writable'; sid: number; writable: boolean }
  | { t: 'closed'; sid: number }
  /** Finish what is under way, send `09 503` to every session, then end. */
  | { t: 'shutdown' }
  /** No sessions left and none will come: end the task (thread-per-client mode). */
  | { t: 'retire' }
  /** A scrape (or a health check): answer with this host's metrics. */
  | { t: 'metrics'; rid: number };

export type HostOutbound =
  /**
   * The host is running and listening: its first message. Until then its
   * thread may still be starting (DESIGN.md §Thread models: a thread start
   * costs ~170 ms of CPU), which the dedicated mode's warm spares hide.
   */
  | { t: 'ready' }
  /** The answer to the frame that opened answer slot `slot` of the connection (DESIGN.md §Answer order); `close` ends the connection after it. */
  | { t: 'answer'; sid: number; slot: number; bytes: Uint8Array; close: boolean }
  /** A `09` that ends the connection: written at once, or (`after`) once the answers of slots below `after` are written. */
  | { t: 'end'; sid: number; bytes: Uint8Array; after?: number }
  /**
   * Frames of a connection that the host finished without an answer (an
   * `08`, or dropped because the session closed); the main thread counts
   * answered frames itself. It reads the socket again once at most
   * `maxInflight` of its frames wait (DESIGN.md §Flow control).
   */
  | { t: 'credit'; sid: number; frames: number }
  /** The answer to `metrics`; `final` (rid 0) is sent once, just before `drained`, by a host that ends. */
  | { t: 'metrics'; rid: number; json: MetricsJson; final?: boolean }
  /** Log lines (pino JSON) for the main thread's root logger to write (DESIGN.md §Observability). */
  | { t: 'log'; lines: string[] }
  /** The host has ended (after `shutdown`: every session was told 503; after `retire`). Its last message. */
  | { t: 'drained' };

export interface HostTask {
  hostId: number;
  mainPort: MessagePort;
  brokerPort: MessagePort;
  options: HostOptions;
}

export type HostOptions = Pick<
  ServerOptions,
  'pollBatch' | 'logLevel' | 'anonymousTimeoutMs' | 'maxInflight'
> & { faults?: FaultInjection };

/**
 * Test-only fault injection (never set by `zapwire serve`): a frame, a
 * delivery or a broker request whose text is exactly one of these throws an
 * unexpected Error where it is handled, so tests can prove that a failure
 * stays with the session or the request that caused it (DESIGN.md §Containment).
 */
export interface FaultInjection {
  /** A session handling a frame whose `data` is this throws. */
  frameData?: string;
  /** A session encoding a `06` whose `data` is this throws. */
  deliveryData?: string;
  /** The broker storing a message whose text is this throws, after its INSERT. */
  storeText?: string;
  /** The broker's commit fails (as with a full disk) while this is true; toggled with the `faults` control message. */
  failCommits?: boolean;
}

// ---- session host / main <-> broker ---------------------------------------

import type { LegacyRow, WireMessage } from '../../store/render.js';

export type { LegacyRow, WireMessage };

/**
 * Where the broker writes the answer of a version 1 request itself, straight
 * to the main thread (DESIGN.md §The path of one message): the connection,
 * the answer slot the session opened for the frame, and the frame's fields
 * a `07` or `09` echoes.
 */
export interface AnswerTo {
  sid: number;
  slot: number;
  src: string;
  dst: string;
  ts: number;
}

/**
 * Every request to the broker, by `op`: its fields. A request whose op has a
 * reply type in `BrokerReplies` also carries the `rid` its reply echoes
 * (BrokerRequest adds it); the others are answered on the wire or not at all.
 *
 * `remote` is the client's source address (IP only, no port): the broker
 * keeps the per-address quotas (registrations, failed authentications).
 */
export interface BrokerRequests {
  register: { name: string; remote: string };
  /** The broker writes the `04` answer (then the pushes) and tells the host the outcome. */
  open: { to: AnswerTo; number: string; token: string; push: boolean; remote: string };
  /** The session is gone: its delivery ledger (and push route) goes. */
  close: { sid: number };
  /** The broker writes the `07` (or `09`) itself: no reply to the host. */
  send: { to: AnswerTo; flag: boolean; text: string };
  /**
   * A cumulative `08`: `count` 06 frames of this connection received. `after`
   * is the session's next answer slot, where a `09 400` for a count beyond
   * what was sent is ordered.
   */
  ack: {
    sid: number;
    number: string;
    count: number;
    src: string;
    dst: string;
    ts: number;
    after: number;
  };
  /** The broker writes the `06`s and the `03` itself, then tells the host (whose next frames waited). */
  poll: { to: AnswerTo; number: string; limit: number };
  /** From the main thread: the connection's socket stopped draining (false) or drains again: pushes stop or resume. */
  writable: { sid: number; writable: boolean };
  /** Answered once everything asked before it on the same port has been answered (a host's shutdown). */
  sync: Record<never, never>;
  createGroup: { src: string; ts: number; members: string[] };
  validate: { number: string; usersOnly?: boolean };
  /**
   * `12` (docs/protocol.md §Names): the name `number` goes by, as `asker`
   * may see it. From HTTP, with the asker's `credentials`, checked first.
   */
  nameOf: { asker: string; number: string; credentials?: Credentials };
  /** `14`: `src`, a member, names `group`. From HTTP, with the namer's `credentials`. */
  nameGroup: { src: string; group: string; name: string; credentials?: Credentials };
  /** HTTP send: checks the token, then stores each text as its own message, all in one transaction. */
  authSend: {
    number: string;
    token: string;
    dst: string;
    ts: number;
    flag: boolean;
    texts: string[];
    remote: string;
  };
  // Legacy listener (docs/protocol.md §Legacy listener): trusts src, no token.
  legacyRegister: { remote: string };
  legacySend: { src: string; dst: string; ts: number; text: string };
  legacyCreateGroup: { ts: number; members: string[] };
  legacyFetch: { number: string; limit: number };
  legacyDelivered: { number: string; id: number };
}

/** An HTTP request's bearer token and source address: the broker checks them as it checks a `04`'s. */
export interface Credentials {
  token: string;
  remote: string;
}

/** The request was carried out; there is nothing more to say. */
export type Done = null;

/** A new user: its number and the secret token that opens its sessions. */
export interface Registered {
  number: string;
  token: string;
}

/**
 * The reply to each request that expects one, by `op`: `ask` returns exactly
 * this type for its op, and the broker's handler of that op must return it.
 * (An error is not a reply value: it is the `ok: false` reply, or a `09`.)
 */
export interface BrokerReplies {
  register: Registered;
  /** The `04` answer was written: the session is open. */
  open: Done;
  /** The `06`s and the `03` were written. */
  poll: Done;
  sync: Done;
  /** The new group's number. */
  createGroup: string;
  /** Whether the number is a registered user or group (a user, with `usersOnly`). */
  validate: boolean;
  /** What the number is, and its name (empty when it has none). */
  nameOf: DisplayName;
  /** The group's name now stored. */
  nameGroup: string;
  /** The message id of each text, in order. */
  authSend: number[];
  /** The new user's number (legacy users have no token). */
  legacyRegister: string;
  legacySend: Done;
  legacyCreateGroup: Done;
  legacyFetch: LegacyRow[];
  legacyDelivered: Done;
}

export type BrokerOp = keyof BrokerRequests;
/** The ops whose requests expect a reply (and carry a `rid`). */
export type AskOp = keyof BrokerReplies;
/** The ops answered on the wire by the broker, or not at all. */
export type TellOp = Exclude<BrokerOp, AskOp>;

/**
 * A request as it crosses to the broker. Written as a map over the ops (not
 * a plain union) so that TypeScript follows `op` from a request to its
 * handler and its reply: `ask({ op: 'validate', ... })` infers the op, and a
 * table of handlers indexed by `request.op` type-checks without a cast.
 */
export type BrokerRequest<O extends BrokerOp = BrokerOp> = {
  [K in O]: { op: K } & BrokerRequests[K] & (K extends AskOp ? { rid: number } : unknown);
}[O];

/** A request that expects a reply, without the `rid` the client adds. */
export type AskRequest<O extends AskOp = AskOp> = { [K in O]: { op: K } & BrokerRequests[K] }[O];
/** A request that expects no reply. */
export type TellRequest = BrokerRequest<TellOp>;

export type BrokerEvent =
  /** On the port the rid alone pairs a reply with its request (and so its op's reply type). */
  | { t: 'reply'; rid: number; ok: true; value: BrokerReplies[AskOp] }
  | { t: 'reply'; rid: number; ok: false; status: number; reason: string }
  /**
   * To a host: end a session with this status: 409 when a newer push session
   * replaced it (docs/protocol.md §Sessions), 503 when the store failed or a
   * delivery to it failed, 400 for an `08` beyond what was sent (ordered after
   * answer slot `after - 1`, echoing `cause`).
   */
  | {
      t: 'kick';
      sid: number;
      status: number;
      reason: string;
      after?: number;
      cause?: { src: string; dst: string; ts: number };
    }
  /** To the main thread: the answer of slot `slot` of connection `sid` (DESIGN.md §Answer order). */
  | { t: 'answer'; sid: number; slot: number; bytes: Uint8Array; close: boolean }
  /** To the main thread: `06` frames for connection `sid`, in the order the ledger counted them. */
  | { t: 'deliver'; sid: number; bytes: Uint8Array };

// ---- main <-> broker (control) ---------------------------------------------

export interface BrokerWorkerData {
  dbPath: string;
  /** --redis: the broker joins the cluster routed through it (src/server/cluster/). */
  redis?: string;
  nodeId: string;
  /** --cluster-ttl-ms: presence and heartbeat life (used with redis only). */
  clusterTtlMs: number;
  synchronous: ServerOptions['synchronous'];
  pushWindow: number;
  commitWindowMs: number;
  logLevel: LogLevel;
  quotas: BrokerQuotas;
  faults?: FaultInjection;
}

/** The limits the broker enforces (docs/protocol.md §Limits); 0 turns one off. */
export type BrokerQuotas = Pick<
  ServerOptions,
  | 'rateLimit'
  | 'groupRateLimit'
  | 'maxPendingPerRecipient'
  | 'registerRate'
  | 'registerBurst'
  | 'authFailuresPerMinute'
>;

export type BrokerControl =
  | { t: 'attach'; hostId: number; port: MessagePort }
  /** `--threads 0`: host these sessions on the broker thread itself (its port to the broker is a channel within that thread). */
  | { t: 'hostSessions'; hostId: number; mainPort: MessagePort; options: HostOptions }
  | { t: 'detach'; hostId: number }
  | { t: 'stats'; rid: number }
  | { t: 'metrics'; rid: number }
  /** /healthz: whether the store's last commit succeeded (answered with `health`). */
  | { t: 'health'; rid: number }
  /** Test-only: replace the broker's fault injection. */
  | { t: 'faults'; faults: FaultInjection }
  | { t: 'shutdown' };

export interface BrokerStats {
  statements: number;
  commits: number;
  messagesStored: number;
  messagesDelivered: number;
  routes: number;
}

export type BrokerControlEvent =
  | { t: 'ready' }
  | { t: 'failed'; message: string }
  | { t: 'stats'; rid: number; stats: BrokerStats }
  | { t: 'metrics'; rid: number; json: MetricsJson }
  /** `failing`: why the last commit failed, while commits are failing (disk full, I/O error); undefined when healthy. */
  | { t: 'health'; rid: number; failing: string | undefined }
  /** Log lines (pino JSON) for the main thread's root logger. */
  | { t: 'log'; lines: string[] }
  | { t: 'closed' };
