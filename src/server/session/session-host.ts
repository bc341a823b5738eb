import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { Status } from '../../protocol/status.js';
import { asBuffer, BatchedPort, packBytes } from '../batched-port.js';
import { BrokerClient, type AskRequest, type Result, type TellRequest } from '../broker-client.js';
import type { HostMetrics, MetricsJson } from '../metrics/metrics.js';
import type { BrokerEvent, HostInbound, HostOutbound, HostTask } from '../thread-messages.js';
import { Session, type SessionHostPort } from './session.js';

/**
 * Hosts the session handlers of one worker thread: one `Session` per
 * connection the main thread assigned here (many, or exactly one in
 * thread-per-client mode). It routes frames in, requests to the broker, and
 * answers and pushes out, batching each direction per event-loop turn.
 */
export class SessionHost implements SessionHostPort {
  readonly finished: Promise<void>;
  private readonly sessions = new Map<number, Session>();
  private readonly broker: BrokerClient;
  private readonly toMain: BatchedPort<HostOutbound>;
  /** Per connection, what leaves at the end of this turn: frames to write, and credit for frames finished. */
  private readonly output = new Map<number, { chunks: Buffer[]; close: boolean; credit: number }>();
  private outputScheduled = false;
  private shuttingDown = false;
  private done = false;
  private resolveFinished!: () => void;
  private readonly mainPort: MessagePort;
  private readonly brokerPort: MessagePort;
  private readonly sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly task: HostTask,
    private readonly logger: Logger,
    readonly metrics?: HostMetrics,
  ) {
    this.mainPort = task.mainPort;
    this.brokerPort = task.brokerPort;
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.broker = new BrokerClient(this.brokerPort, (event) => this.onBroker(event), () => {
      if (this.shuttingDown) this.finishShutdownWhenIdle();
    });
    this.toMain = new BatchedPort(this.mainPort);
    this.mainPort.on('message', (batch: HostInbound[]) => {
      for (const message of batch) this.fromMain(message);
    });
    const timeout = task.options.anonymousTimeoutMs;
    if (timeout > 0) this.sweepTimer = setInterval(this.sweepAnonymous, sweepInterval(timeout));
  }

  get size(): number {
    return this.sessions.size;
  }

  request(request: AskRequest, onReply: (result: Result) => void): void {
    this.broker.ask(request, onReply);
  }

  notify(request: TellRequest): void {
    this.broker.tell(request);
  }

  write(sid: number, frames: Buffer | readonly Buffer[], close: boolean): void {
    const entry = this.outputOf(sid);
    if (!entry) return;
    // Collected as they are; flushOutput copies them once into one message.
    if (Array.isArray(frames)) entry.chunks.push(...frames);
    else entry.chunks.push(frames as Buffer);
    entry.close ||= close;
  }

  credit(sid: number, frames: number): void {
    const entry = this.outputOf(sid);
    if (entry) entry.credit += frames;
  }

  private outputOf(sid: number): { chunks: Buffer[]; close: boolean; credit: number } | undefined {
    if (!this.sessions.has(sid)) return undefined;
    let entry = this.output.get(sid);
    if (!entry) {
      entry = { chunks: [], close: false, credit: 0 };
      this.output.set(sid, entry);
    }
    if (!this.outputScheduled) {
      this.outputScheduled = true;
      setImmediate(this.flushOutput);
    }
    return entry;
  }

  /**
   * One `write` per connection per turn, all in one postMessage to the main
   * thread; credit rides along in the same message, after the writes it
   * answers, so the main thread reads more only once those answers are queued
   * on its socket (where the output limit sees them).
   */
  private readonly flushOutput = (): void => {
    this.outputScheduled = false;
    for (const [sid, { chunks, close, credit }] of this.output) {
      if (chunks.length > 0) {
        const bytes = packBytes(chunks);
        this.metrics?.framesWritten(bytes);
        this.toMain.send({ t: 'write', sid, bytes, close });
      }
      if (credit > 0) this.toMain.send({ t: 'credit', sid, frames: credit });
    }
    this.output.clear();
    this.toMain.flush();
  };

  /** DESIGN.md §Containment: a message that throws ends the session it concerns, never the thread. */
  private fromMain(message: HostInbound): void {
    try {
      this.onMain(message);
    } catch (err) {
      this.contain(err, 'sid' in message ? message.sid : undefined, `main ${message.t}`);
    }
  }

  private contain(err: unknown, sid: number | undefined, during: string): void {
    const session = sid === undefined ? undefined : this.sessions.get(sid);
    if (session) session.crash(err, during);
    else this.logger.error({ err, sid, during }, 'session host: message failed');
  }

  /**
   * docs/protocol.md §Limits: an anonymous connection idle past anonymousTimeoutMs
   * (no frame received, none being handled) gets `09 408` and is closed. One
   * sweep per host rather than a timer per connection: at 18,000 connections
   * a walk over the host's sessions every second costs microseconds, and a
   * timer re-armed per frame would cost on every frame.
   */
  private readonly sweepAnonymous = (): void => {
    const timeout = this.task.options.anonymousTimeoutMs;
    const now = Date.now();
    let closed = 0;
    for (const session of this.sessions.values()) {
      if (session.state !== 'anonymous' || !session.idle || now - session.lastFrameAt < timeout) continue;
      session.end(Status.Timeout, `idle for ${timeout} ms without opening a session (anonymousTimeoutMs)`, false);
      closed++;
    }
    // One line per sweep, not one per connection: an idle-socket flood must not become a log flood.
    if (closed > 0) this.logger.info({ closed, anonymousTimeoutMs: timeout }, 'anonymous connections idle past the time limit: 408');
  };

  private onMain(message: HostInbound): void {
    switch (message.t) {
      case 'open': {
        const session = new Session(message.sid, this, this.task.options, this.logger, message.remote, message.address);
        this.sessions.set(message.sid, session);
        this.metrics?.session('anonymous', 1);
        session.debug({}, 'connection assigned');
        return;
      }
      case 'frames':
        this.metrics?.framesRead(message.bytes);
        if (!this.shuttingDown) this.sessions.get(message.sid)?.receive(asBuffer(message.bytes));
        return;
      case 'writable': {
        const session = this.sessions.get(message.sid);
        if (!session) return;
        session.setWritable(message.writable);
        if (message.writable && session.heldCredit > 0) {
          this.notify({ op: 'ack', sid: session.sid, number: session.number, ids: [], credit: session.heldCredit });
          session.heldCredit = 0;
        }
        return;
      }
      case 'closed': {
        const session = this.sessions.get(message.sid);
        if (!session) return;
        this.sessions.delete(message.sid);
        this.output.delete(message.sid);
        this.metrics?.session(session.kind, -1);
        // Unacknowledged 06 rows stay pending: the next session or poll gets them again.
        if (session.push && session.state !== 'anonymous') this.notify({ op: 'close', sid: message.sid });
        session.state = 'closed';
        session.debug({ sent: session.sent, acked: session.acked }, 'connection closed');
        return;
      }
      case 'shutdown':
        this.shuttingDown = true;
        this.finishShutdownWhenIdle();
        return;
      case 'retire':
        this.end();
        return;
      case 'metrics': {
        const rid = message.rid;
        this.collect().then(
          (json) => {
            this.toMain.send({ t: 'metrics', rid, json });
            this.toMain.flush();
          },
          (err: unknown) => this.logger.error({ err }, 'cannot collect metrics'),
        );
        return;
      }
    }
  }

  /** Log lines of this thread for the main thread's root logger. */
  forwardLog(lines: string[]): void {
    this.toMain.send({ t: 'log', lines });
  }

  private async collect(): Promise<MetricsJson> {
    return this.metrics ? ((await this.metrics.registry.getMetricsAsJSON()) as MetricsJson) : [];
  }

  private onBroker(event: BrokerEvent): void {
    try {
      this.fromBroker(event);
    } catch (err) {
      this.contain(err, 'sid' in event ? event.sid : undefined, `broker ${event.t}`);
    }
  }

  private fromBroker(event: BrokerEvent): void {
    switch (event.t) {
      case 'reply':
        return; // BrokerClient answers these
      case 'push':
        this.sessions.get(event.sid)?.deliver(event.messages);
        return;
      case 'kick':
        this.sessions.get(event.sid)?.end(event.status, event.reason);
        return;
    }
  }

  /** Shutdown: once every answer under way has come back, tell each session 503 and end. */
  private finishShutdownWhenIdle(): void {
    if (this.done || this.broker.outstanding > 0) return;
    for (const session of this.sessions.values()) session.end(Status.Unavailable, 'server shutting down');
    this.flushOutput();
    this.end();
  }

  /**
   * Ends the task. The main port is left for the main thread to close when it
   * reads `drained`: closing it here could drop that last message in flight.
   */
  private end(): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.sweepTimer);
    this.broker.flush();
    // The final totals go before `drained`, so the main thread's counters
    // never go backwards when this host's registry goes away.
    this.collect().then(
      (json) => this.finish(json),
      () => this.finish([]),
    );
  }

  private finish(json: MetricsJson): void {
    this.onEnd?.();
    this.toMain.send({ t: 'metrics', rid: 0, json, final: true });
    this.toMain.send({ t: 'drained' });
    this.toMain.flush();
    setImmediate(() => {
      this.brokerPort.close();
      this.resolveFinished();
    });
  }

  /** Called just before the last messages to the main thread (the worker flushes its log lines). */
  onEnd: (() => void) | undefined;
}

/** Often enough that the limit holds within a quarter of it (at most a second late), never busier than 20 a second. */
function sweepInterval(timeoutMs: number): number {
  return Math.min(1_000, Math.max(50, Math.floor(timeoutMs / 4)));
}
