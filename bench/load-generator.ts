/**
 * A load generator process (child_process.fork). The parent gives it a role
 * over IPC: register users, hold push or poll sessions, poll, play the
 * original one-connection-per-request client, send at a rate or with a window.
 *
 * Efficiency: every connection collects what it has to write during one turn
 * of the event loop and writes it as one Buffer (measured on the 2-vCPU
 * machine: 256-byte frames over loopback, 83k frames/s with one write per
 * frame against 770k-830k batched per turn, ~9x: the syscalls are the cost). Frames are parsed by hand, not decoded,
 * because the generator must not be the bottleneck.
 *
 * Latency: a 05 carries `<seq> <send time in ms>` where the time is
 * performance.timeOrigin + performance.now(), comparable across processes on
 * one machine; the recipient records (now - send time) for 05->06, the sender
 * records 05->07 from a FIFO of its unanswered 05 (answers come in order).
 */
import { connect, type Socket } from 'node:net';
import hdr from 'hdr-histogram-js';
import { encodeFrameInto, FRAME_SIZE, FrameSplitter } from '../src/protocol/index.js';
import { PerTurnFlush, replyToParent } from './child.js';
import type { Collected, GeneratorReply, GeneratorRequest, Identity } from './ipc.js';
import { newHistogram, now, SendTimes } from './measure.js';

let h0506 = newHistogram();
let h0507 = newHistogram();
let received = 0;
let duplicates = 0;
let sent = 0;
let stored = 0;
let errors = 0;

const reply: (message: GeneratorReply) => void = replyToParent;

/** Per identity: the highest seq seen from each sender, to tell redeliveries (at least once) from new messages. */
class Seen {
  private readonly max = new Map<string, number>();
  isNew(src: string, seq: number): boolean {
    const last = this.max.get(src);
    if (last !== undefined && seq <= last) return false;
    this.max.set(src, seq);
    return true;
  }
}

const pending = new PerTurnFlush<Conn>();
const scheduleFlush = (conn: Conn): void => pending.mark(conn);

type Role = 'push' | 'poll' | 'sender' | 'original';

class Conn {
  readonly socket: Socket;
  private readonly splitter = new FrameSplitter();
  private out: Buffer[] = [];
  /** 06 frames read on this connection (for the cumulative 08). */
  private count06 = 0;
  private acked = 0;
  /** Send times of unanswered 05, in order. */
  private readonly pending = new SendTimes();
  seq = 0;
  window = 0;
  opened = false;
  closed = false;
  onOpen?: (ok: boolean) => void;
  /** The server answered the 04 with 09 503 (no handler ready) rather than refusing the session. */
  refused = false;
  onPollAnswer?: (count: number) => void;

  constructor(
    port: number,
    readonly role: Role,
    readonly who: Identity,
    readonly seen: Seen,
  ) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.splitter.push(chunk, (f) => this.onFrame(f)));
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      if (!this.opened) this.onOpen?.(false);
      conns.delete(this);
    });
    conns.add(this);
    this.write(frame('04', this.who.number, '0000000000000', role === 'push', this.who.token));
  }

  get inflight(): number {
    return this.pending.size;
  }

  write(buf: Buffer): void {
    this.out.push(buf);
    scheduleFlush(this);
  }

  flush(): void {
    if (this.closed) return;
    if (this.count06 > this.acked) {
      this.acked = this.count06;
      this.out.push(frame('08', this.who.number, '0000000000000', false, String(this.count06)));
    }
    if (this.role === 'sender' && this.window > 0 && loadUntil > now()) this.refill();
    if (this.out.length === 0) return;
    this.socket.write(this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out));
    this.out = [];
  }

  /** Appends n 05 frames to targets (round robin) as one buffer. */
  send(n: number): void {
    const buf = Buffer.allocUnsafe(n * FRAME_SIZE);
    const t = now();
    for (let i = 0; i < n; i++) {
      const dst = targets[targetCursor++ % targets.length]!;
      encodeFrameInto(buf, i * FRAME_SIZE, {
        code: '05',
        src: this.who.number,
        dst,
        ts: Math.floor(t / 1000),
        data: `${++this.seq} ${t.toFixed(3)}`,
      });
      this.pending.push(t);
    }
    sent += n;
    this.out.push(buf);
    scheduleFlush(this);
  }

  private refill(): void {
    const n = this.window - this.inflight;
    if (n > 0) {
      this.send(n);
      pending.forget(this); // already flushing
    }
  }

  private onFrame(f: Buffer): void {
    const c0 = f[0]! - 0x30;
    const code = c0 * 10 + (f[1]! - 0x30);
    switch (code) {
      case 6: {
        const t = now();
        this.count06++;
        let end = FRAME_SIZE;
        while (end > 39 && f[end - 1] === 0) end--;
        const data = f.toString('latin1', 39, end);
        const space = data.indexOf(' ');
        const seq = Number(data.slice(0, space));
        const sentAt = Number(data.slice(space + 1));
        if (this.seen.isNew(f.toString('latin1', 2, 15), seq)) {
          received++;
          h0506.recordValue(Math.max(1, Math.round((t - sentAt) * 1000)));
        } else duplicates++;
        scheduleFlush(this);
        break;
      }
      case 7:
        stored++;
        h0507.recordValue(Math.max(1, Math.round((now() - this.pending.shift()) * 1000)));
        if (this.window > 0) scheduleFlush(this);
        break;
      case 4:
        this.opened = true;
        this.onOpen?.(true);
        break;
      case 3: {
        this.polling = false;
        let end = FRAME_SIZE;
        while (end > 39 && f[end - 1] === 0) end--;
        this.onPollAnswer?.(Number(f.toString('latin1', 39, end)));
        break;
      }
      case 9:
        errors++;
        if (!this.opened) {
          // A 503 before the session opened: the server had no handler ready
          // (a thread per client, all starting): the opener may try again.
          this.refused = f.toString('latin1', 39, 42) === '503';
          this.socket.destroy();
          break;
        }
        if (this.role === 'sender' && this.inflight > 0) this.pending.shift();
        break;
      default:
        break;
    }
  }

  /** A 03 has been written and its closing 03 not yet read. */
  polling = false;

  /**
   * Writes a 03 unless one is unanswered: polling again before the 08 would
   * fetch the same messages again (docs/protocol.md §Sessions).
   */
  poll(): void {
    if (this.polling) return;
    this.polling = true;
    this.write(frame('03', this.who.number, '0000000000000', false, ''));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const frameCache = Buffer.allocUnsafe(FRAME_SIZE);
function frame(
  code: '03' | '04' | '05' | '08' | '01',
  src: string,
  dst: string,
  flag: boolean,
  data: string,
): Buffer {
  encodeFrameInto(frameCache, 0, { code, src, dst, flag, data });
  return Buffer.from(frameCache);
}

const conns = new Set<Conn>();
const pollers: Conn[] = [];
const senders: Conn[] = [];
const timers: NodeJS.Timeout[] = [];
let targets: string[] = [];
let targetCursor = 0;
let loadUntil = 0;
const pollBatch = 100;

/** Pipelines 01 frames on a few connections; the server answers each with 02. */
async function register(port: number, count: number): Promise<Identity[]> {
  const lanes = Math.min(8, Math.max(1, Math.ceil(count / 500)));
  const out: Identity[] = [];
  await Promise.all(
    Array.from({ length: lanes }, (_, lane) => {
      const n = Math.floor(count / lanes) + (lane < count % lanes ? 1 : 0);
      return new Promise<void>((resolve, reject) => {
        if (n === 0) return resolve();
        const socket = connect(port, '127.0.0.1');
        const splitter = new FrameSplitter();
        let got = 0;
        socket.on('error', reject);
        socket.on('data', (chunk: Buffer) =>
          splitter.push(chunk, (f) => {
            if (f.toString('latin1', 0, 2) !== '02')
              return reject(new Error(`register answered ${f.toString('latin1', 0, 2)}`));
            let end = FRAME_SIZE;
            while (end > 39 && f[end - 1] === 0) end--;
            out.push({ number: f.toString('latin1', 15, 28), token: f.toString('utf8', 39, end) });
            if (++got === n) {
              socket.destroy();
              resolve();
            }
          }),
        );
        // In chunks of 1,000 frames, so that the server's input buffer stays small.
        let written = 0;
        const writeMore = () => {
          while (written < n) {
            const k = Math.min(1000, n - written);
            const buf = Buffer.allocUnsafe(k * FRAME_SIZE);
            for (let i = 0; i < k; i++)
              encodeFrameInto(buf, i * FRAME_SIZE, { code: '01', data: 'bench' });
            written += k;
            if (!socket.write(buf)) return void socket.once('drain', writeMore);
          }
        };
        writeMore();
      });
    }),
  );
  return out;
}

/** Pause before opening a session again after a 503 (no handler ready). */
const RETRY_503_MS = 50;

async function open(
  port: number,
  kind: Role,
  identities: Identity[],
  concurrency: number,
  timeoutMs: number,
): Promise<{ ok: number; failed: number; refused: number; connect: string }> {
  const hist = newHistogram();
  let ok = 0;
  let failed = 0;
  let next = 0;
  let refusedOpens = 0;
  let deadlinePassed = false;
  await new Promise<void>((resolve) => {
    if (identities.length === 0) return resolve();
    let done = 0;
    const opening = new Set<Conn>();
    // Bounded in time: sessions not open by then, started or not, count as
    // failed (a connection still waiting for its 04 answer is given up on
    // here, not left to report later).
    const timer = setTimeout(() => {
      deadlinePassed = true;
      // Whatever is not done by now (not started, opening, or waiting to retry after a 503).
      failed += identities.length - done;
      next = identities.length;
      for (const c of opening) {
        c.onOpen = undefined;
        c.destroy();
      }
      opening.clear();
      resolve();
    }, timeoutMs);
    const start = (): void => {
      const who = identities[next++];
      if (who) retry(who);
    };
    const retry = (who: Identity): void => {
      if (deadlinePassed) return;
      const t0 = now();
      const conn = new Conn(port, kind, who, new Seen());
      opening.add(conn);
      conn.onOpen = (success) => {
        opening.delete(conn);
        conn.onOpen = undefined;
        if (success) {
          ok++;
          hist.recordValue(Math.max(1, Math.round((now() - t0) * 1000)));
          if (kind === 'sender') senders.push(conn);
          if (kind === 'poll') pollers.push(conn);
        } else if (conn.refused && !deadlinePassed) {
          // Dedicated threads refuse with 503 while none is ready (DESIGN.md
          // §Thread models): wait a little and open the same session again.
          refusedOpens++;
          conn.destroy();
          setTimeout(() => retry(who), RETRY_503_MS);
          return;
        } else {
          failed++;
          conn.destroy();
        }
        if (++done === identities.length) {
          clearTimeout(timer);
          resolve();
        } else start();
      };
    };
    for (let i = 0; i < Math.min(concurrency, identities.length); i++) start();
  });
  return { ok, failed, refused: refusedOpens, connect: hdr.encodeIntoCompressedBase64(hist) };
}

function startPolling(intervalMs: number): void {
  for (const conn of pollers) {
    conn.onPollAnswer = (count) => {
      // 08 is written by flush (cumulative); a full batch means more is waiting.
      scheduleFlush(conn);
      if (count >= pollBatch) conn.poll();
    };
    const phase = Math.random() * intervalMs;
    timers.push(
      setTimeout(() => {
        conn.poll();
        timers.push(setInterval(() => conn.poll(), intervalMs));
      }, phase),
    );
  }
}

/** The original model: one connection per request (connect, 04, 03, read, 08, close). */
function startOriginal(port: number, identities: Identity[], intervalMs: number): void {
  for (const who of identities) {
    const seen = new Seen();
    const cycle = () => {
      const conn = new Conn(port, 'original', who, seen);
      conn.poll(); // docs/protocol.md allows frames right after 04; the server holds them until 04 is answered.
      conn.onPollAnswer = (count) => {
        if (count >= pollBatch) return conn.poll();
        conn.flush(); // the 08
        conn.socket.end();
      };
    };
    const phase = Math.random() * intervalMs;
    timers.push(
      setTimeout(() => {
        cycle();
        timers.push(setInterval(cycle, intervalMs));
      }, phase),
    );
  }
}

function load(
  request: Extract<GeneratorRequest, { t: 'load' }>,
): Promise<{ sent: number; stored: number; elapsedMs: number }> {
  targets = request.targets;
  targetCursor = Math.floor(Math.random() * targets.length);
  const sent0 = sent;
  const stored0 = stored;
  const t0 = now();
  loadUntil = t0 + request.durationMs;
  return new Promise((resolve) => {
    const finish = () =>
      resolve({ sent: sent - sent0, stored: stored - stored0, elapsedMs: now() - t0 });
    if (request.window !== undefined) {
      for (const s of senders) {
        s.window = request.window;
        scheduleFlush(s);
      }
      setTimeout(() => {
        for (const s of senders) s.window = 0;
        // Let the last 07 come back before reporting.
        const wait = () =>
          senders.some((s) => s.inflight > 0 && !s.closed) &&
          now() - t0 < request.durationMs + 10_000
            ? setTimeout(wait, 5)
            : finish();
        wait();
      }, request.durationMs);
      return;
    }
    const rate = request.rate ?? 0;
    let due0 = 0;
    let cursor = 0;
    const timer = setInterval(() => {
      const t = now();
      const elapsed = Math.min(t, loadUntil) - t0;
      const due = Math.floor((elapsed * rate) / 1000) - due0;
      if (due > 0 && senders.length > 0) {
        due0 += due;
        // Spread over the sender connections, one buffer each.
        const per = Math.floor(due / senders.length);
        let extra = due - per * senders.length;
        for (let i = 0; i < senders.length; i++) {
          const s = senders[(cursor + i) % senders.length]!;
          const n = per + (extra > 0 ? 1 : 0);
          if (extra > 0) extra--;
          if (n > 0) s.send(n);
        }
        cursor = (cursor + 1) % senders.length;
      }
      if (t >= loadUntil) {
        clearInterval(timer);
        const wait = () =>
          senders.some((s) => s.inflight > 0 && !s.closed) &&
          now() - t0 < request.durationMs + 10_000
            ? setTimeout(wait, 5)
            : finish();
        wait();
      }
    }, 1);
  });
}

function collect(): Collected {
  return {
    received,
    duplicates,
    sent,
    stored,
    errors,
    latency0506: hdr.encodeIntoCompressedBase64(h0506),
    latency0507: hdr.encodeIntoCompressedBase64(h0507),
    open: conns.size,
  };
}

process.on('message', (message: GeneratorRequest) => {
  void (async () => {
    try {
      switch (message.t) {
        case 'register':
          reply({
            t: 'registered',
            rid: message.rid,
            identities: await register(message.port, message.count),
          });
          break;
        case 'open': {
          const t0 = now();
          const r = await open(
            message.port,
            message.kind,
            message.identities,
            message.concurrency,
            message.timeoutMs,
          );
          reply({ t: 'opened', rid: message.rid, ...r, elapsedMs: now() - t0 });
          break;
        }
        case 'start-polling':
          startPolling(message.intervalMs);
          reply({ t: 'done', rid: message.rid });
          break;
        case 'start-original':
          startOriginal(message.port, message.identities, message.intervalMs);
          reply({ t: 'done', rid: message.rid });
          break;
        case 'stop-polling':
          for (const t of timers.splice(0)) clearTimeout(t);
          reply({ t: 'done', rid: message.rid });
          break;
        case 'load':
          reply({ t: 'loaded', rid: message.rid, ...(await load(message)) });
          break;
        case 'reset':
          h0506 = newHistogram();
          h0507 = newHistogram();
          received = duplicates = sent = stored = errors = 0;
          reply({ t: 'done', rid: message.rid });
          break;
        case 'collect':
          reply({ t: 'collected', rid: message.rid, collected: collect() });
          break;
        case 'close':
          for (const t of timers.splice(0)) clearTimeout(t);
          for (const c of conns) c.destroy();
          reply({ t: 'done', rid: message.rid });
          break;
      }
    } catch (err) {
      reply({
        t: 'failed',
        rid: message.rid,
        message: err instanceof Error ? err.message : String(err),
      });
    }
  })();
});

setInterval(() => reply({ t: 'progress', received, sent, stored, open: conns.size }), 500).unref();
process.on('disconnect', () => process.exit(0));
