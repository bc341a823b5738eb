import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { Status } from '../../protocol/status.js';
import type { HostMetrics, MetricsJson } from '../metrics/metrics.js';
import { asBuffer, BatchedPort, packBytes } from '../threads/batched-port.js';
import {
  type AskRequest,
  BrokerClient,
  type Result,
  type TellRequest,
} from '../threads/broker-client.js';
import type {
  AskOp,
  BrokerEvent,
  HostInbound,
  HostOutbound,
  HostTask,
} from '../threads/thread-messages.js';
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
  /** Per connection, what leaves at the end of this turn: answers, an end, and credit for frames finished without an answer. */
  private readonly output = new Map<number, Output>();
  /**
   * Credit for unanswered frames (08s) is sent with the connection's next
   * answer, or once this many have gathered: fewer than half the main
   * thread's budget, so they never pause a socket by themselves, and an
   * 08 alone does not wake the main thread (DESIGN.md §Flow control).
   */
  private readonly creditBatch: number;
  private outputScheduled = false;
  private shuttingDown = false;
  /** Shutdown: the last `sync` has been asked (and answered once finishShutdownWhenIdle runs again). */
  private synced = false;
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
    this.broker = new BrokerClient(
      this.brokerPort,
      (event) => this.onBroker(event),
      () => {
        if (this.shuttingDown) this.finishShutdownWhenIdle();
      },
    );
    this.toMain = new BatchedPort(this.mainPort);
    this.creditBatch = Math.max(1, Math.floor(task.options.maxInflight / 2));
    this.mainPort.on('message', (batch: HostInbound[]) => {
      for (const message of batch) this.fromMain(message);
    });
    const timeout = task.options.anonymousTimeoutMs;
    if (timeout > 0) this.sweepTimer = setInterval(this.sweepAnonymous, sweepInterval(timeout));
  }

  get size(): number {
    return this.sessions.size;
  }

  request<O extends AskOp>(request: AskRequest<O>, onReply: (result: Result<O>) => void): void {
    this.broker.ask(request, onReply);
  }

  notify(request: TellRequest): void {
    this.broker.tell(request);
  }

  notifyLater(request: TellRequest): void {
    this.broker.tellLater(request);
  }

  answer(sid: number, slot: number, frames: Buffer | readonly Buffer[], close: boolean): void {
    const entry = this.outputOf(sid);
    if (!entry) return;
    // Copied once into an exact-size array: a pooled Buffer would take its 8 KiB slab along.
    const bytes = Array.isArray(frames) ? packBytes(frames) : packBytes([frames as Buffer]);
    entry.answers.push({ t: 'answer', sid, slot, bytes, close });
    this.schedule();
  }

  endConnection(sid: number, frame: Buffer, after: number | undefined): void {
    const entry = this.outputOf(sid);
    if (!entry) return;
    entry.end =
      after === undefined
        ? { t: 'end', sid, bytes: packBytes([frame]) }
        : { t: 'end', sid, bytes: packBytes([frame]), after };
    this.schedule();
  }

  credit(sid: number, frames: number): void {
    const entry = this.outputOf(sid);
    if (!entry) return;
    entry.credit += frames;
    if (entry.credit >= this.creditBatch) this.schedule();
  }

  private outputOf(sid: number): Output | undefined {
    if (!this.sessions.has(sid)) return undefined;
    let entry = this.output.get(sid);
    if (!entry) {
      entry = { answers: [], end: undefined, credit: 0 };
      this.output.set(sid, entry);
    }
    return entry;
  }

  private schedule(): void {
    if (this.outputScheduled) return;
    this.outputScheduled = true;
    setImmediate(this.flushOutput);
  }

  /**
   * Everything for the main thread in one postMessage per turn. Credit for
   * unanswered frames rides with the connection's answers, or leaves alone
   * once creditBatch of them have gathered; less waits for a later turn.
   */
  private readonly flushOutput = (): void => {
    this.outputScheduled = false;
    for (const [sid, entry] of this.output) {
      const { answers, end, credit } = entry;
      const speaks = answers.length > 0 || end !== undefined;
      if (!speaks && credit < this.creditBatch) continue;
      for (const answer of answers) {
        this.metrics?.framesWritten(answer.bytes);
        this.toMain.send(answer);
      }
      if (end) {
        this.metrics?.framesWritten(end.bytes);
        this.toMain.send(end);
      }
      if (credit > 0) this.toMain.send({ t: 'credit', sid, frames: credit });
      this.output.delete(sid);
    }
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
      if (session.state !== 'anonymous' || !session.idle || now - session.lastFrameAt < timeout)
        continue;
      session.end(
        Status.Timeout,
        `idle for ${timeout} ms without opening a session (anonymousTimeoutMs)`,
        false,
      );
      closed++;
    }
    // One line per sweep, not one per connection: an idle-socket flood must not become a log flood.
    if (closed > 0)
      this.logger.info(
        { closed, anonymousTimeoutMs: timeout },
        'anonymous connections idle past the time limit: 408',
      );
  };

  private onMain(message: HostInbound): void {
    switch (message.t) {
      case 'open': {
        const session = new Session(
          message.sid,
          this,
          this.task.options,
          this.logger,
          message.remote,
          message.address,
        );
        this.sessions.set(message.sid, session);
        this.metrics?.session('anonymous', 1);
        session.debug({}, 'connection assigned');
        return;
      }
      case 'frames':
        this.metrics?.framesRead(message.bytes);
        if (!this.shuttingDown) this.sessions.get(message.sid)?.receive(asBuffer(message.bytes));
        return;
      case 'writable':
        // The main thread tells the broker too, which stops pushing to it meanwhile.
        this.sessions.get(message.sid)?.setWritable(message.writable);
        return;
      case 'closed': {
        const session = this.sessions.get(message.sid);
        if (!session) return;
        session.closedByClient();
        this.sessions.delete(message.sid);
        this.output.delete(message.sid);
        this.metrics?.session(session.kind, -1);
        // The broker drops the connection's ledger and push route. Unacknowledged 06 rows stay pending: the next session or poll gets them again.
        if (session.opening) this.notify({ op: 'close', sid: message.sid });
        session.state = 'closed';
        session.debug({}, 'connection closed');
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
      case 'kick':
        this.sessions
          .get(event.sid)
          ?.end(event.status, event.reason, true, event.after, event.cause);
        return;
      case 'answer':
      case 'deliver':
        return; // the main thread's, never sent here
    }
  }

  /**
   * Shutdown: once every answer under way has been given (the broker answers
   * the `sync` asked last only after every request before it), tell each
   * session 503, written after its answers, and end.
   */
  private finishShutdownWhenIdle(): void {
    if (this.done || this.broker.outstanding > 0) return;
    if (!this.synced) {
      this.synced = true;
      this.broker.ask({ op: 'sync' }, () => this.finishShutdownWhenIdle());
      this.broker.flush();
      return;
    }
    for (const session of this.sessions.values())
      session.end(Status.Unavailable, 'server shutting down', true, session.nextSlot);
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

/** What one connection has for the main thread this turn. */
interface Output {
  answers: Extract<HostOutbound, { t: 'answer' }>[];
  end: Extract<HostOutbound, { t: 'end' }> | undefined;
  credit: number;
}

/** Often enough that the limit holds within a quarter of it (at most a second late), never busier than 20 a second. */
function sweepInterval(timeoutMs: number): number {
  return Math.min(1_000, Math.max(50, Math.floor(timeoutMs / 4)));
}
