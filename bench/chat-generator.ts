/**
 * A chat load generator process (child_process.fork): pairs of users, each
 * sender its own connection that sends only to its receiver, each receiver
 * its own session (a zapwire push session, or an MQTT subscriber with a topic
 * of its own), driven open loop at a rate or closed loop with a window.
 *
 * Open-loop timing: a 1 ms timer cannot pace a thousand senders one by one,
 * so the run's messages are numbered globally, message j is due at
 * startAt + j / rate, and each timer tick writes every message that has come
 * due, each on its sender's connection, then sleeps until the next is due. Messages are thus spread evenly in
 * time over all senders of all generator processes, never sent in bursts.
 * Latency is recorded from the *intended* send time (no coordinated
 * omission: a generator or server that falls behind shows up in the
 * latency), and how late the generator wrote each message is recorded apart
 * (sendLag), so a late generator is seen as such. Closed loop: latency from
 * the actual write.
 *
 * Writes are collected per connection during one turn of the event loop and
 * written as one Buffer, as in bench/load-generator.ts.
 */
import { connect, type Socket } from 'node:net';
import hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { encodeFrameInto, FRAME_SIZE, FrameSplitter } from '../src/protocol/index.js';
import { PerTurnFlush, replyToParent } from './child.js';
import type { ChatCollected, ChatPair, ChatProtocol, ChatReply, ChatRequest } from './ipc.js';
import { newHistogram, now, SendTimes } from './measure.js';
import {
  CONNACK,
  encodeConnect,
  encodeSubscribe,
  MqttSplitter,
  PUBACK,
  PUBLISH,
  publishParts,
  publishTemplate,
  SUBACK,
  writePuback,
} from './mqtt-codec.js';

/** The MQTT payload size: a zapwire frame is 256 bytes, so the peers carry 256 bytes too. */
const MQTT_PAYLOAD = 256;
const NOBODY = '0000000000000';

const us = (ms: number) => Math.max(1, Math.round(ms * 1000));

let h0506 = newHistogram();
let h0507 = newHistogram();
let hLag = newHistogram();
let sent = 0;
let acked = 0;
let errors = 0;
let received = 0;
let duplicates = 0;

const reply: (message: ChatReply) => void = replyToParent;

const pending = new PerTurnFlush<Conn>();

/**
 * One connection with a write buffer flushed once per loop turn: TCP, or a
 * WebSocket at /v1/ws (docs/protocol.md §WebSocket), where each flush is one
 * binary message of whole frames and each message read is whole frames.
 */
abstract class Conn {
  private readonly socket: Socket | undefined;
  private readonly ws: WebSocket | undefined;
  protected out: Buffer[] = [];
  opened = false;
  closed = false;
  onOpen?: (ok: boolean) => void;

  constructor(port: number, websocket = false) {
    const closed = () => {
      this.closed = true;
      if (!this.opened) this.onOpen?.(false);
      conns.delete(this);
    };
    if (websocket) {
      this.ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { perMessageDeflate: false });
      this.ws.on('open', () => this.flush());
      this.ws.on('message', (data: Buffer) => this.onData(data));
      this.ws.on('error', () => {});
      this.ws.on('close', closed);
    } else {
      this.socket = connect(port, '127.0.0.1');
      this.socket.setNoDelay(true);
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
      this.socket.on('error', () => {});
      this.socket.on('close', closed);
    }
    conns.add(this);
  }

  destroy(): void {
    this.socket?.destroy();
    this.ws?.terminate();
  }

  protected abstract onData(chunk: Buffer): void;

  protected write(buf: Buffer): void {
    this.out.push(buf);
    pending.mark(this);
  }

  protected ready(): void {
    this.opened = true;
    this.onOpen?.(true);
  }

  flush(): void {
    if (this.closed || this.out.length === 0) return;
    // What is written before the WebSocket opens waits for its 'open'.
    if (this.ws && this.ws.readyState !== WebSocket.OPEN) return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    if (this.ws) this.ws.send(bytes, { binary: true });
    else this.socket!.write(bytes);
  }
}

/** What the load loop needs of a sender, whatever the protocol. */
interface Sender extends Conn {
  readonly inflight: number;
  window: number;
  /** Writes one message; latency is counted from `from` (ms, the intended or the actual send time). */
  send(from: number): void;
}

/** Receivers count a message new when its seq is above the last one seen (one sender per receiver). */
function record(data: string, t: number, last: number): number {
  const space = data.indexOf(' ');
  const seq = Number(data.slice(0, space));
  if (seq <= last) {
    duplicates++;
    return last;
  }
  received++;
  h0506.recordValue(us(t - Number(data.slice(space + 1))));
  return seq;
}

let loading = false;

class ZapSender extends Conn implements Sender {
  private readonly splitter = new FrameSplitter();
  /** Send times of unanswered 05, in order (07 and 09 answer in order). */
  private readonly pending = new SendTimes();
  private seq = 0;
  window = 0;

  constructor(
    port: number,
    private readonly pair: ChatPair,
    websocket: boolean,
  ) {
    super(port, websocket);
    this.write(frame('04', pair.sender.number, NOBODY, false, pair.sender.token));
  }

  get inflight(): number {
    return this.pending.size;
  }

  send(from: number): void {
    const buf = Buffer.allocUnsafe(FRAME_SIZE);
    encodeFrameInto(buf, 0, {
      code: '05',
      src: this.pair.sender.number,
      dst: this.pair.receiver.number,
      ts: Math.floor(from / 1000),
      data: `${++this.seq} ${from.toFixed(3)}`,
    });
    this.pending.push(from);
    sent++;
    this.write(buf);
  }

  protected onData(chunk: Buffer): void {
    this.splitter.push(chunk, (f) => {
      const code = (f[0]! - 0x30) * 10 + (f[1]! - 0x30);
      if (code === 7) {
        acked++;
        h0507.recordValue(us(now() - this.pending.shift()));
        if (this.window > 0 && loading) this.send(now());
      } else if (code === 4) this.ready();
      else if (code === 9) {
        errors++;
        if (!this.opened) this.destroy();
        else if (this.inflight > 0) this.pending.shift();
      }
    });
  }
}

class ZapReceiver extends Conn {
  private readonly splitter = new FrameSplitter();
  private count06 = 0;
  private last = 0;

  constructor(
    port: number,
    private readonly pair: ChatPair,
    websocket: boolean,
  ) {
    super(port, websocket);
    this.write(frame('04', pair.receiver.number, NOBODY, true, pair.receiver.token));
  }

  protected onData(chunk: Buffer): void {
    let got = false;
    this.splitter.push(chunk, (f) => {
      const code = (f[0]! - 0x30) * 10 + (f[1]! - 0x30);
      if (code === 6) {
        this.count06++;
        got = true;
        let end = FRAME_SIZE;
        while (end > 39 && f[end - 1] === 0) end--;
        this.last = record(f.toString('latin1', 39, end), now(), this.last);
      } else if (code === 4) this.ready();
      else if (code === 9) {
        errors++;
        if (!this.opened) this.destroy();
      }
    });
    // One cumulative 08 per read (docs/protocol.md §Codes: 08 carries the count of 06 received).
    if (got)
      this.write(frame('08', this.pair.receiver.number, NOBODY, false, String(this.count06)));
  }
}

const frameCache = Buffer.allocUnsafe(FRAME_SIZE);
function frame(code: '04' | '08', src: string, dst: string, flag: boolean, data: string): Buffer {
  encodeFrameInto(frameCache, 0, { code, src, dst, flag, data });
  return Buffer.from(frameCache);
}

class MqttSender extends Conn implements Sender {
  private readonly splitter = new MqttSplitter();
  private readonly template: ReturnType<typeof publishTemplate>;
  /** Send time by packet id (at most `window` unanswered, far below 65,535). */
  private readonly sentAt = new Float64Array(65_536);
  private seq = 0;
  inflight = 0;
  window = 0;

  constructor(port: number, pair: ChatPair) {
    super(port);
    this.template = publishTemplate(`chat/${pair.receiver.number}`, MQTT_PAYLOAD);
    this.write(encodeConnect(`p${pair.sender.number}`));
  }

  send(from: number): void {
    const buf = Buffer.from(this.template.packet);
    const id = (this.seq % 65_535) + 1;
    buf.writeUInt16BE(id, this.template.idOffset);
    buf.write(`${++this.seq} ${from.toFixed(3)}`, this.template.payloadOffset, 'latin1');
    this.sentAt[id] = from;
    this.inflight++;
    sent++;
    this.write(buf);
  }

  protected onData(chunk: Buffer): void {
    this.splitter.push(chunk, (type, _flags, body) => {
      if (type === PUBACK) {
        acked++;
        this.inflight--;
        h0507.recordValue(us(now() - this.sentAt[body.readUInt16BE(0)]!));
        if (this.window > 0 && loading) this.send(now());
      } else if (type === CONNACK) {
        if (body[1] === 0) this.ready();
        else this.destroy();
      }
    });
  }
}

class MqttReceiver extends Conn {
  private readonly splitter = new MqttSplitter();
  private last = 0;

  constructor(
    port: number,
    private readonly pair: ChatPair,
  ) {
    super(port);
    this.write(encodeConnect(`s${pair.receiver.number}`));
  }

  protected onData(chunk: Buffer): void {
    let acks: Buffer | undefined;
    let n = 0;
    this.splitter.push(chunk, (type, flags, body) => {
      if (type === PUBLISH) {
        const t = now();
        const { packetId, payloadOffset } = publishParts(body);
        let end = body.indexOf(0, payloadOffset);
        if (end < 0) end = body.length;
        this.last = record(body.toString('latin1', payloadOffset, end), t, this.last);
        if (((flags >> 1) & 3) === 1) {
          acks ??= Buffer.allocUnsafe(4 * Math.ceil(chunk.length / 64));
          if (n * 4 + 4 > acks.length) {
            this.write(acks.subarray(0, n * 4));
            acks = Buffer.allocUnsafe(acks.length);
            n = 0;
          }
          writePuback(acks, n++ * 4, packetId);
        }
      } else if (type === CONNACK)
        this.write(encodeSubscribe(1, `chat/${this.pair.receiver.number}`));
      else if (type === SUBACK) this.ready();
    });
    if (acks && n > 0) this.write(acks.subarray(0, n * 4));
  }
}

const conns = new Set<Conn>();
let senders: Sender[] = [];

/** Opens `make` for each pair, `concurrency` at a time, within timeoutMs. */
function openEach<T extends Conn>(
  pairs: ChatPair[],
  make: (p: ChatPair) => T,
  concurrency: number,
  timeoutMs: number,
): Promise<{ ok: T[]; failed: number }> {
  const ok: T[] = [];
  let failed = 0;
  let next = 0;
  let done = 0;
  return new Promise((resolve) => {
    if (pairs.length === 0) return resolve({ ok, failed });
    const opening = new Set<T>();
    const timer = setTimeout(() => {
      failed += pairs.length - next + opening.size;
      next = pairs.length;
      for (const c of opening) {
        c.onOpen = undefined;
        c.destroy();
      }
      resolve({ ok, failed });
    }, timeoutMs);
    const start = (): void => {
      const pair = pairs[next++];
      if (!pair) return;
      const conn = make(pair);
      opening.add(conn);
      conn.onOpen = (success) => {
        opening.delete(conn);
        conn.onOpen = undefined;
        if (success) ok.push(conn);
        else {
          failed++;
          conn.destroy();
        }
        if (++done === pairs.length) {
          clearTimeout(timer);
          resolve({ ok, failed });
        } else start();
      };
    };
    for (let i = 0; i < Math.min(concurrency, pairs.length); i++) start();
  });
}

async function open(
  protocol: ChatProtocol,
  port: number,
  receiverPort: number,
  pairs: ChatPair[],
  concurrency: number,
  timeoutMs: number,
) {
  const ws = protocol === 'zapwire-ws';
  const receivers = await openEach(
    pairs,
    (p) =>
      protocol === 'mqtt'
        ? new MqttReceiver(receiverPort, p)
        : new ZapReceiver(receiverPort, p, ws),
    concurrency,
    timeoutMs,
  );
  const s = await openEach(
    pairs,
    (p): Sender => (protocol === 'mqtt' ? new MqttSender(port, p) : new ZapSender(port, p, ws)),
    concurrency,
    timeoutMs,
  );
  senders = s.ok;
  return { ok: receivers.ok.length + s.ok.length, failed: receivers.failed + s.failed };
}

function load(
  r: Extract<ChatRequest, { t: 'load' }>,
): Promise<{ sent: number; acked: number; elapsedMs: number }> {
  const sent0 = sent;
  const acked0 = acked;
  const endAt = r.startAt + r.durationMs;
  loading = true;
  return new Promise((resolve) => {
    const finish = () => {
      loading = false;
      for (const s of senders) s.window = 0;
      // Let the last answers come back before reporting (bounded).
      const wait = () =>
        senders.some((s) => s.inflight > 0 && !s.closed) && now() < endAt + 10_000
          ? setTimeout(wait, 2)
          : resolve({ sent: sent - sent0, acked: acked - acked0, elapsedMs: now() - r.startAt });
      wait();
    };
    if (r.window !== undefined) {
      const window = r.window;
      setTimeout(
        () => {
          for (const s of senders) {
            s.window = window;
            for (let i = 0; i < window; i++) s.send(now());
          }
          setTimeout(finish, r.durationMs);
        },
        Math.max(0, r.startAt - now()),
      );
      return;
    }
    const step = 1000 / r.totalRate!;
    let k = 0;
    const dueAt = (k: number) => r.startAt + (k * r.slots + r.slot) * step;
    // Each tick writes what has come due, then sleeps until the next message
    // is due (at least 1 ms, the timers' resolution): no wake-up when nothing
    // is due, since the generators share the cores with the server under test.
    const tick = () => {
      const t = now();
      for (let due = dueAt(k); due <= t && due < endAt; due = dueAt(++k)) {
        senders[k % senders.length]!.send(due);
        hLag.recordValue(us(t - due));
      }
      if (dueAt(k) >= endAt) finish();
      else setTimeout(tick, Math.max(1, dueAt(k) - now()));
    };
    setTimeout(tick, Math.max(1, dueAt(0) - now()));
  });
}

function collect(): ChatCollected {
  return {
    sent,
    acked,
    errors,
    received,
    duplicates,
    latency0506: hdr.encodeIntoCompressedBase64(h0506),
    latency0507: hdr.encodeIntoCompressedBase64(h0507),
    sendLag: hdr.encodeIntoCompressedBase64(hLag),
    open: conns.size,
  };
}

function reset(): void {
  h0506 = newHistogram();
  h0507 = newHistogram();
  hLag = newHistogram();
  sent = acked = errors = received = duplicates = 0;
}

process.on('message', (message: ChatRequest) => {
  void (async () => {
    try {
      switch (message.t) {
        case 'open': {
          const t0 = now();
          const r = await open(
            message.protocol,
            message.port,
            message.receiverPort ?? message.port,
            message.pairs,
            message.concurrency,
            message.timeoutMs,
          );
          reply({ t: 'opened', rid: message.rid, ...r, elapsedMs: now() - t0 });
          break;
        }
        case 'load':
          reply({ t: 'loaded', rid: message.rid, ...(await load(message)) });
          break;
        case 'reset':
          reset();
          reply({ t: 'done', rid: message.rid });
          break;
        case 'collect':
          reply({ t: 'collected', rid: message.rid, collected: collect() });
          break;
        case 'drop':
          for (const c of conns) c.destroy();
          senders = [];
          reset(); // what was in flight on those connections will never be answered
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

setInterval(
  () => reply({ t: 'progress', received, sent, stored: acked, open: conns.size }),
  100,
).unref();
process.on('disconnect', () => process.exit(0));
