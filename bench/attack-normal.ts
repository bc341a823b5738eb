/**
 * The normal client of the attack tool: a registered pair, both in push
 * sessions, the sender writing one `05` every 50 ms to the recipient. It
 * measures what an unrelated user feels during an attack (05->07, 05->06, how
 * many ticks got no answer within 1 s) and, at the end, whether every `05`
 * that got a `07` reached the recipient (the recipient opens a new push
 * session and takes what is still pending).
 */
import {
  type Identity,
  type InFrame,
  now,
  openSession,
  register,
  sleep,
  statusOf,
  type WireConn,
} from './attack-wire.js';
import { newHistogram } from './measure.js';

export const PROBE_INTERVAL_MS = 50;
/** A probe unanswered this long counts as "unanswered" (the "answered within 1 s"). */
export const ANSWER_WITHIN_MS = 1_000;
const TS_BASE = 1_700_000_000;

export interface Latency {
  count: number;
  /** milliseconds */
  p50: number;
  p99: number;
  max: number;
}

export interface NormalSummary {
  /** 50 ms ticks during the attack window. */
  ticks: number;
  /** Ticks with no session to send on (the connection was refused or dropped). */
  noSession: number;
  sent: number;
  stored: number;
  /** `09` answers to the probes, by status. */
  refused: Record<string, number>;
  /** Ticks without a 07/09 within 1 s (no session counts too). */
  unanswered: number;
  latency0507: Latency;
  latency0506: Latency;
  /** Sessions that ended under the client and were opened again. */
  reconnects: number;
  /** Every 05 acknowledged (07) at any time, and how many of those never reached the recipient. */
  acknowledged: number;
  lost: number | undefined;
  /** The first lost probes: seq, ms from the first probe to its send, ms to its 07. */
  lostProbes: { seq: number; sentAtMs: number; storedAfterMs: number }[];
  verifyError?: string;
}

interface Probe {
  seq: number;
  sentAt: number;
  inWindow: boolean;
  answeredAt?: number;
  status?: number;
  receivedAt?: number;
}

function histogram() {
  return newHistogram();
}

export function latencyOf(values: number[]): Latency {
  const h = histogram();
  for (const v of values) h.recordValue(Math.max(1, Math.round(v * 1000)));
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
  };
}

/** Keeps one push session open for `who`, opening it again whenever it ends (a real client's reconnect). */
class KeptSession {
  conn: WireConn | undefined;
  reconnects = 0;
  private stopped = false;
  private count06 = 0;
  private acked = 0;
  private ackScheduled = false;

  constructor(
    private port: number,
    private readonly who: Identity,
    private readonly onFrame: (f: InFrame) => void,
  ) {}

  async keep(): Promise<void> {
    while (!this.stopped) {
      try {
        let ended!: () => void;
        const closed = new Promise<void>((resolve) => (ended = resolve));
        const conn = await openSession(this.port, this.who, true, undefined, 2_000, (c) => {
          this.count06 = this.acked = 0;
          c.onClose = ended;
          c.onFrame = (f) => {
            if (f.code === '06') {
              this.count06++;
              this.scheduleAck(c);
            }
            this.onFrame(f);
          };
        });
        if (this.stopped) return conn.destroy();
        this.conn = conn;
        await closed;
        this.conn = undefined;
        if (!this.stopped) this.reconnects++;
      } catch {
        // Refused or unanswered: try again shortly, as a client's backoff would.
      }
      if (!this.stopped) await sleep(200);
    }
  }

  /** docs/protocol.md §Codes: 08 carries the cumulative count of 06 on this connection. */
  private scheduleAck(conn: WireConn): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      if (this.conn === conn && this.count06 > this.acked) {
        this.acked = this.count06;
        conn.send({ code: '08', src: this.who.number, data: String(this.count06) });
      }
    });
  }

  stop(): void {
    this.stopped = true;
    this.conn?.destroy();
  }
}

export class NormalClient {
  private readonly probes: Probe[] = [];
  private readonly bySeq = new Map<number, Probe>();
  private sender!: KeptSession;
  private recipient!: KeptSession;
  private timer: NodeJS.Timeout | undefined;
  private inWindow = false;
  private ticks = 0;
  private noSession = 0;
  private seq = 0;
  /** Texts of the other messages the recipient got in its live push session (not probes). */
  readonly othersLive: string[] = [];

  private constructor(
    readonly a: Identity,
    readonly b: Identity,
  ) {}

  /** Registers the pair (before the attack: registrations may be limited per address later). */
  static async create(port: number): Promise<NormalClient> {
    const [a, b] = await register(port, 2);
    return new NormalClient(a!, b!);
  }

  start(port: number): void {
    this.sender = new KeptSession(port, this.a, (f) => this.onSenderFrame(f));
    this.recipient = new KeptSession(port, this.b, (f) => {
      if (f.code === '06' && !f.data.startsWith('probe ')) this.othersLive.push(f.data);
      this.onRecipientFrame(f);
    });
    void this.sender.keep();
    void this.recipient.keep();
    this.timer = setInterval(() => this.tick(), PROBE_INTERVAL_MS);
  }

  /** Probes sent between begin and end are the ones measured. */
  beginWindow(): void {
    this.inWindow = true;
  }
  endWindow(): void {
    this.inWindow = false;
  }

  private tick(): void {
    if (this.inWindow) this.ticks++;
    const conn = this.sender.conn;
    if (!conn || conn.closed) {
      if (this.inWindow) this.noSession++;
      return;
    }
    const seq = ++this.seq;
    const probe: Probe = { seq, sentAt: now(), inWindow: this.inWindow };
    this.probes.push(probe);
    this.bySeq.set(seq, probe);
    // ts carries seq, so that each 07 or 09 names the probe it answers.
    conn.send({
      code: '05',
      src: this.a.number,
      dst: this.b.number,
      ts: TS_BASE + seq,
      flag: false,
      data: `probe ${seq}`,
    });
  }

  private onSenderFrame(f: InFrame): void {
    if (f.code !== '07' && f.code !== '09') return;
    const probe = this.bySeq.get(f.ts - TS_BASE);
    if (!probe || probe.answeredAt !== undefined) return;
    probe.answeredAt = now();
    probe.status = f.code === '07' ? 0 : statusOf(f);
  }

  private onRecipientFrame(f: InFrame): void {
    if (f.code !== '06' || !f.data.startsWith('probe ')) return;
    const probe = this.bySeq.get(Number(f.data.slice(6)));
    if (probe && probe.receivedAt === undefined) probe.receivedAt = now();
  }

  /** Stops probing and waits (at most 3 s) for the answers still due. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const t0 = now();
    while (this.probes.some((p) => p.answeredAt === undefined) && now() - t0 < 3_000)
      await sleep(50);
    this.sender.stop();
  }

  /**
   * Nothing acknowledged lost: the recipient, in a new push session (on
   * `port`, which may be a server restarted on the same database), takes what
   * is pending until 600 ms pass quietly.
   */
  async verify(port: number): Promise<{ lost: number; error?: string }> {
    this.recipient.stop();
    await sleep(100);
    try {
      let count = 0;
      let last = now();
      const conn = await openSession(port, this.b, true, undefined, 5_000, (c) => {
        c.onFrame = (f) => {
          if (f.code !== '06') return;
          last = now();
          count++;
          c.send({ code: '08', src: this.b.number, data: String(count) });
          this.onRecipientFrame(f);
        };
      });
      const t0 = now();
      while (now() - last < 600 && now() - t0 < 10_000) await sleep(50);
      conn.destroy();
    } catch (err) {
      return { lost: this.lostCount(), error: err instanceof Error ? err.message : String(err) };
    }
    return { lost: this.lostCount() };
  }

  private lostCount(): number {
    return this.probes.filter((p) => p.status === 0 && p.receivedAt === undefined).length;
  }

  summary(verified: { lost: number; error?: string } | undefined): NormalSummary {
    const window = this.probes.filter((p) => p.inWindow);
    const refused: Record<string, number> = {};
    let unanswered = this.noSession;
    for (const p of window) {
      if (p.answeredAt === undefined || p.answeredAt - p.sentAt > ANSWER_WITHIN_MS) unanswered++;
      if (p.status !== undefined && p.status !== 0)
        refused[p.status] = (refused[p.status] ?? 0) + 1;
    }
    return {
      ticks: this.ticks,
      noSession: this.noSession,
      sent: window.length,
      stored: window.filter((p) => p.status === 0).length,
      refused,
      unanswered,
      latency0507: latencyOf(
        window.filter((p) => p.status === 0).map((p) => p.answeredAt! - p.sentAt),
      ),
      latency0506: latencyOf(
        window.filter((p) => p.receivedAt !== undefined).map((p) => p.receivedAt! - p.sentAt),
      ),
      reconnects: this.sender.reconnects + this.recipient.reconnects,
      acknowledged: this.probes.filter((p) => p.status === 0).length,
      lost: verified?.error && verified.lost > 0 ? undefined : verified?.lost,
      lostProbes: this.probes
        .filter((p) => p.status === 0 && p.receivedAt === undefined)
        .slice(0, 10)
        .map((p) => ({
          seq: p.seq,
          sentAtMs: Math.round(p.sentAt - this.probes[0]!.sentAt),
          storedAfterMs: Math.round(p.answeredAt! - p.sentAt),
        })),
      ...(verified?.error ? { verifyError: verified.error } : {}),
    };
  }
}
