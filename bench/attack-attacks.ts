/**
 * The attacks of issue #9's table, one function each, as an attacker process
 * (bench/attack-load.ts) runs them. Each function prepares (users, sessions)
 * and returns the attack itself, which runs for env.durationMs (a few hold
 * longer to see a time limit act) and reports what it got. Every load goes to
 * 127.0.0.1, from the attacker's own loopback addresses (attackerAddress),
 * bounded in count and in time.
 */

import type { Socket } from 'node:net';
import hdr from 'hdr-histogram-js';
import { FRAME_SIZE, tsField } from '../src/protocol/index.js';
import type { AttackerReport, LoadEnv } from './attack-ipc.js';
import {
  attackerAddress,
  frames,
  HttpPipe,
  httpOnce,
  httpRequest,
  type Identity,
  type InFrame,
  legacyRequest,
  now,
  openSession,
  openSessions,
  register,
  sleep,
  statusOf,
  WireConn,
} from './attack-wire.js';
import { newHistogram } from './measure.js';

export interface AttackEnv extends LoadEnv {
  /** Aborted when the tool stops the attack early (the server passed its RSS ceiling). */
  signal: AbortSignal;
}

/** The attack, ready to go: runs it and says what the attacker got. */
export type Prepared = () => Promise<AttackerReport>;

export interface AttackerSpec {
  /** Attacker processes (sockets are split across them: each process may hold ~20,000 descriptors). */
  processes?: number;
  /** Needs the legacy listener. */
  legacy?: boolean;
  run?: (env: AttackEnv) => Promise<Prepared>;
}

// ---- what an attacker records -----------------------------------------------------------

class Tally {
  readonly counters: Record<string, number> = {};
  readonly facts: Record<string, string | number | boolean> = {};
  private readonly hists = new Map<string, ReturnType<typeof newHistogram>>();

  count(key: string, n = 1): void {
    this.counters[key] = (this.counters[key] ?? 0) + n;
  }

  /** An answer frame: its code, and for a 09 its status (`09:429`). */
  frame(f: InFrame): void {
    this.count(f.code === '09' ? `09:${statusOf(f)}` : f.code);
  }

  /** Records a duration in ms into histogram `key`. */
  ms(key: string, value: number): void {
    let h = this.hists.get(key);
    if (!h) this.hists.set(key, (h = newHistogram()));
    h.recordValue(Math.max(1, Math.round(value * 1000)));
  }

  report(): AttackerReport {
    const hists: Record<string, string> = {};
    for (const [k, h] of this.hists) hists[k] = hdr.encodeIntoCompressedBase64(h);
    return { counters: this.counters, hists, facts: this.facts };
  }
}

// ---- flood helpers -------------------------------------------------------------------------

/** Resolves on the socket's drain or close, the deadline, or the abort. */
function drained(socket: Socket, until: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('drain', done);
      socket.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, until - now()));
    socket.once('drain', done);
    socket.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Writes `batch` again and again, as fast as the socket takes it (waiting
 * only for its drain), until the deadline. Returns the frames that reached
 * the kernel.
 */
async function writeFlood(
  conn: WireConn,
  batch: Buffer,
  until: number,
  signal: AbortSignal,
): Promise<number> {
  const before = conn.socket.bytesWritten;
  while (!signal.aborted && now() < until && !conn.closed) {
    if (!conn.write(batch)) await drained(conn.socket, until, signal);
  }
  return Math.floor((conn.socket.bytesWritten - before) / FRAME_SIZE);
}

/**
 * Keeps `window` requests unanswered on a connection (as fast as the server
 * answers): each answer frame the `isAnswer` test accepts lets one more go.
 */
function windowFlood(
  conn: WireConn,
  frame: Buffer,
  window: number,
  until: number,
  signal: AbortSignal,
  tally: Tally,
  isAnswer: (f: InFrame) => boolean = () => true,
): Promise<number> {
  return new Promise((resolve) => {
    let inflight = 0;
    let written = 0;
    let scheduled = false;
    const finish = () => {
      clearTimeout(timer);
      resolve(written);
    };
    const timer = setTimeout(finish, Math.max(0, until - now()));
    signal.addEventListener('abort', finish, { once: true });
    const refill = () => {
      scheduled = false;
      if (signal.aborted || now() >= until || conn.closed) return;
      const n = window - inflight;
      if (n <= 0) return;
      const batch = Buffer.allocUnsafe(n * FRAME_SIZE);
      for (let i = 0; i < n; i++) frame.copy(batch, i * FRAME_SIZE);
      inflight += n;
      written += n;
      conn.write(batch);
    };
    conn.onFrame = (f) => {
      tally.frame(f);
      if (!isAnswer(f)) return;
      inflight--;
      if (!scheduled) {
        scheduled = true;
        setImmediate(refill);
      }
    };
    refill();
  });
}

function randomNumber(): string {
  let s = String(1 + Math.floor(Math.random() * 9));
  while (s.length < 13) s += String(Math.floor(Math.random() * 10));
  return s;
}

function ts(): number {
  return Math.floor(Date.now() / 1000);
}

/** A connection from the attacker's address, once connected. */
async function connected(port: number, localAddress: string): Promise<WireConn> {
  const conn = new WireConn(port, localAddress);
  await new Promise<void>((resolve, reject) => {
    conn.socket.once('connect', () => resolve());
    conn.socket.once('error', reject);
  });
  return conn;
}

// ---- the attacks ------------------------------------------------------------------------------

/** One anonymous connection writing `19` frames as fast as it can, never reading. */
async function pipeline19NoRead(env: AttackEnv): Promise<Prepared> {
  const conn = await connected(env.port, attackerAddress(0));
  conn.socket.pause();
  const batch = frames(1024, { code: '19', dst: randomNumber() });
  return async () => {
    const tally = new Tally();
    const t0 = now();
    tally.count('framesWritten', await writeFlood(conn, batch, t0 + env.durationMs, env.signal));
    tally.facts.closedByServer = conn.closed;
    if (conn.closed) tally.facts.closedAfterS = Math.round((conn.closedAt! - t0) / 100) / 10;
    conn.destroy();
    return tally.report();
  };
}

/** A sender in a poll session and an offline recipient, both the attacker's own users. */
async function senderAndRecipient(
  env: AttackEnv,
): Promise<{ sender: Identity; recipient: Identity; conn: WireConn }> {
  const [sender, recipient] = await register(env.port, 2, attackerAddress(0));
  const conn = await openSession(env.port, sender!, false, attackerAddress(0));
  return { sender: sender!, recipient: recipient!, conn };
}

/** Authenticated `05`s, written as fast as the socket takes them; `read` or not. */
function pipeline05(read: boolean) {
  return async (env: AttackEnv): Promise<Prepared> => {
    const { sender, recipient, conn } = await senderAndRecipient(env);
    const batch = frames(256, {
      code: '05',
      src: sender.number,
      dst: recipient.number,
      ts: ts(),
      data: 'pipelined 05',
    });
    return async () => {
      const tally = new Tally();
      tally.facts.recipient = recipient.number;
      if (read) conn.onFrame = (f) => tally.frame(f);
      else conn.socket.pause();
      const t0 = now();
      tally.count('framesWritten', await writeFlood(conn, batch, t0 + env.durationMs, env.signal));
      tally.facts.closedByServer = conn.closed;
      if (read) await sleep(500, env.signal); // the last answers
      conn.destroy();
      return tally.report();
    };
  };
}

/** Pipelined `03` in a poll session whose mailbox holds 10 messages (never acknowledged), reading the answers. */
async function pipeline03(env: AttackEnv): Promise<Prepared> {
  const { sender, recipient, conn: senderConn } = await senderAndRecipient(env);
  await new Promise<void>((resolve) => {
    let stored = 0;
    senderConn.onFrame = () => ++stored === 10 && resolve();
    senderConn.write(
      frames(10, {
        code: '05',
        src: sender.number,
        dst: recipient.number,
        ts: ts(),
        data: 'waiting',
      }),
    );
    setTimeout(resolve, 5_000);
  });
  senderConn.destroy();
  const conn = await openSession(env.port, recipient, false, attackerAddress(0));
  const batch = frames(256, { code: '03', src: recipient.number });
  return async () => {
    const tally = new Tally();
    conn.onFrame = (f) => tally.frame(f);
    const t0 = now();
    tally.count('framesWritten', await writeFlood(conn, batch, t0 + env.durationMs, env.signal));
    tally.facts.closedByServer = conn.closed;
    await sleep(500, env.signal);
    conn.destroy();
    return tally.report();
  };
}

/**
 * `POST /v1/messages` with a lone surrogate (`"x\ud800y"`) to a user in a
 * push session, every 200 ms, while 20 other users hold push sessions: how
 * many of those are still open at the end. The victim reconnects when dropped,
 * so that each repetition meets a session.
 */
async function loneSurrogate(env: AttackEnv): Promise<Prepared> {
  const [attacker, victim, ...others] = await register(env.port, 22);
  const bystanders = await openSessions(env.port, others, true);
  let victimConn = await openSession(env.port, victim!, true);
  const request = httpRequest(
    'POST',
    '/v1/messages',
    `{"to":"${victim!.number}","text":"x\\ud800y","receipts":false}`,
    { Authorization: `Bearer ${attacker!.number}:${attacker!.token}` },
  );
  return async () => {
    const tally = new Tally();
    let victimDrops = 0;
    let running = true;
    const keepVictim = async () => {
      while (running) {
        await new Promise<void>((resolve) => (victimConn.onClose = resolve));
        if (!running) return;
        victimDrops++;
        try {
          victimConn = await openSession(env.port, victim!, true, undefined, 2_000);
        } catch {
          await sleep(200);
        }
      }
    };
    void keepVictim();
    // The victim acknowledges what it gets, as a client does.
    const t0 = now();
    const pipe = new HttpPipe(env.httpPort!, attackerAddress(0));
    while (!env.signal.aborted && now() - t0 < env.durationMs) {
      const a = await (pipe.closed
        ? httpOnce(env.httpPort!, request, 2_000, attackerAddress(0))
        : pipe.ask(request, 2_000));
      tally.count(`http:${a.status}`);
      await sleep(200, env.signal);
    }
    running = false;
    pipe.destroy();
    await sleep(300);
    tally.facts.bystanders = others.length;
    tally.facts.bystandersOpened = bystanders.conns.length;
    tally.facts.bystandersStillOpen = bystanders.conns.filter((c) => !c.closed).length;
    tally.facts.victimDrops = victimDrops;
    for (const c of bystanders.conns) c.destroy();
    victimConn.destroy();
    return tally.report();
  };
}

/** Sockets per attacker address: below the per-address cap (1,000 by default), so the total cap and the idle limit are what meet them. */
const SOCKETS_PER_ADDRESS = 750;
export const IDLE_SOCKETS = 18_000;
export const IDLE_PROCESSES = 3;
/** Idle sockets are held this long after the opening ends: past the default anonymous limit (10 s). */
export const IDLE_HOLD_MS = 11_000;

/** A new v1 client registering (01 -> 02) and /healthz, each given 1 s: what a newcomer gets while the attack holds. */
async function probeNewcomers(env: AttackEnv, tally: Tally, when: string): Promise<void> {
  const t0 = now();
  try {
    await register(env.port, 1, undefined, 1_000);
    tally.facts[`${when}V1`] = `02 in ${Math.round(now() - t0)} ms`;
  } catch (err) {
    tally.facts[`${when}V1`] =
      `no 02 within 1 s (${err instanceof Error ? err.message.replace(/^register: /, '') : err})`;
  }
  const h = await httpOnce(env.httpPort!, httpRequest('GET', '/healthz'), 1_000);
  tally.facts[`${when}Healthz`] = h.status
    ? `${h.status} in ${Math.round(h.ms)} ms`
    : `no answer within 1 s`;
}

/**
 * Up to 18,000 anonymous sockets (this process's share), opened as fast as
 * the server accepts them and left idle; when and how the server closes them.
 */
async function idleSockets(env: AttackEnv): Promise<Prepared> {
  const share = Math.floor(IDLE_SOCKETS / env.of) + (env.index < IDLE_SOCKETS % env.of ? 1 : 0);
  const perProcessAddresses = Math.ceil(IDLE_SOCKETS / env.of / SOCKETS_PER_ADDRESS);
  return async () => {
    const tally = new Tally();
    const conns: WireConn[] = [];
    let ending = false;
    const t0 = now();
    let next = 0;
    const openOne = (): Promise<void> =>
      new Promise((resolve) => {
        const i = next++;
        const conn = new WireConn(
          env.port,
          attackerAddress(env.index * perProcessAddresses + Math.floor(i / SOCKETS_PER_ADDRESS)),
        );
        conns.push(conn);
        let first: InFrame | undefined;
        conn.onFrame = (f) => (first ??= f);
        conn.socket.once('connect', () => resolve());
        // A connect the kernel keeps retrying (a full backlog) must not stall the opening.
        setTimeout(resolve, 3_000);
        conn.onClose = () => {
          resolve();
          if (ending) return;
          if (conn.connectedAt === undefined)
            return tally.count(`connectFailed:${conn.error ?? 'closed'}`);
          const status = first?.code === '09' ? statusOf(first) : undefined;
          tally.count(status ? `closed:09 ${status}` : `closed:${conn.error ?? 'no frame'}`);
          if (status === 408) tally.ms('closedAfter408', conn.closedAt! - conn.connectedAt);
          else tally.ms('closedOther', conn.closedAt! - conn.connectedAt);
        };
      });
    // 200 connects in flight per process, until the share is open or the attack's time has passed.
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        while (next < share && now() - t0 < env.durationMs && !env.signal.aborted) await openOne();
      }),
    );
    const opened = now();
    tally.count('connected', conns.filter((c) => c.connectedAt !== undefined).length);
    tally.count('openAfterOpening', conns.filter((c) => !c.closed).length);
    tally.facts.openedInS = Math.round((opened - t0) / 100) / 10;
    if (env.index === 0) {
      await sleep(500, env.signal);
      await probeNewcomers(env, tally, 'whileHeld');
    }
    await sleep(IDLE_HOLD_MS - (now() - opened), env.signal);
    tally.count('stillOpen', conns.filter((c) => !c.closed).length);
    if (env.index === 0) await probeNewcomers(env, tally, 'atEnd');
    ending = true;
    for (const c of conns) c.destroy();
    return tally.report();
  };
}

/** Slow HTTP: held until closed or this long (past the default 30 s whole-request limit). */
const SLOW_HTTP_HOLD_MS = 32_000;
const SLOW_HTTP_SOCKETS = 900;

/**
 * 900 HTTP connections sending their headers at 1 byte/s, and 900 sending
 * complete headers then their body at 1 byte/s: when the server closes each.
 */
async function slowHttp(env: AttackEnv): Promise<Prepared> {
  return async () => {
    const tally = new Tally();
    const hold = Math.max(env.durationMs, SLOW_HTTP_HOLD_MS);
    const t0 = now();
    const slow: { pipe: HttpPipe; kind: 'headers' | 'body'; at: number; ready: boolean }[] = [];
    let ending = false;
    for (const kind of ['headers', 'body'] as const) {
      for (let i = 0; i < SLOW_HTTP_SOCKETS; i++) {
        const pipe = new HttpPipe(env.httpPort!, attackerAddress(kind === 'headers' ? 0 : 1));
        const entry = { pipe, kind, at: now(), ready: false };
        slow.push(entry);
        pipe.socket.once('connect', () => {
          entry.at = now();
          entry.ready = true;
          pipe.socket.write(
            kind === 'headers'
              ? 'POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '
              : 'POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
          );
        });
        // What the server says before closing (Node answers 408 to a timed-out request).
        pipe.expect((a) => tally.count(`${kind}:answered ${a.status || 'nothing'}`));
        pipe.socket.once('close', () => {
          if (!ending) tally.ms(`${kind}ClosedAfter`, now() - entry.at);
        });
      }
    }
    const drip = setInterval(() => {
      for (const s of slow)
        if (s.ready && !s.pipe.closed && s.pipe.socket.writable)
          s.pipe.socket.write(s.kind === 'headers' ? 'a' : ' ');
    }, 1_000);
    if (env.index === 0) {
      await sleep(2_000, env.signal);
      tally.count('openAtProbe', slow.filter((s) => !s.pipe.closed).length);
      await probeNewcomers(env, tally, 'whileHeld');
    }
    while (!env.signal.aborted && now() - t0 < hold && slow.some((s) => !s.pipe.closed))
      await sleep(250, env.signal);
    clearInterval(drip);
    ending = true;
    tally.facts.heldS = Math.round((now() - t0) / 100) / 10;
    tally.count(
      'headersStillOpen',
      slow.filter((s) => s.kind === 'headers' && !s.pipe.closed).length,
    );
    tally.count('bodyStillOpen', slow.filter((s) => s.kind === 'body' && !s.pipe.closed).length);
    for (const s of slow) s.pipe.destroy();
    return tally.report();
  };
}

/** HTTP requests kept in flight on each of `pipes` connections until the deadline. */
function httpFlood(
  pipes: HttpPipe[],
  request: () => Buffer,
  depth: number,
  until: number,
  signal: AbortSignal,
  onAnswer: (status: number) => void,
  ratePerSec = 0,
): Promise<void> {
  return new Promise((resolve) => {
    const t0 = now();
    let issued = 0;
    const fill = () => {
      if (signal.aborted || now() >= until) {
        clearInterval(ticker);
        return resolve();
      }
      const due =
        ratePerSec > 0 ? Math.floor(((now() - t0) * ratePerSec) / 1000) - issued : Infinity;
      let budget = due;
      for (const pipe of pipes) {
        while (budget > 0 && !pipe.closed && pipe.inflight < depth) {
          budget--;
          issued++;
          pipe.request(request(), (a) => onAnswer(a.status));
        }
      }
    };
    const ticker = setInterval(fill, 1);
  });
}

/** `01` over v1 and `POST /v1/users`, both as fast as the server answers, from one address. */
async function registerFlood(env: AttackEnv): Promise<Prepared> {
  const from = attackerAddress(0);
  const conns = await Promise.all(Array.from({ length: 4 }, () => connected(env.port, from)));
  const pipes = Array.from({ length: 16 }, () => new HttpPipe(env.httpPort!, from));
  const one01 = frames(1, { code: '01', data: 'flood' });
  const post = httpRequest('POST', '/v1/users', '{"name":"flood"}');
  return async () => {
    const tally = new Tally();
    const until = now() + env.durationMs;
    await Promise.all([
      ...conns.map((c) => windowFlood(c, one01, 256, until, env.signal, tally)),
      httpFlood(
        pipes,
        () => post,
        16,
        until,
        env.signal,
        (s) => tally.count(`http:${s}`),
      ),
    ]);
    await sleep(500);
    for (const c of conns) c.destroy();
    for (const p of pipes) p.destroy();
    return tally.report();
  };
}

/** One sender, 4 poll sessions, `05` to one offline recipient as fast as the server answers. */
async function offlineFlood(env: AttackEnv): Promise<Prepared> {
  const from = attackerAddress(0);
  const [sender, victim] = await register(env.port, 2, from);
  const { conns } = await openSessions(env.port, [sender!, sender!, sender!, sender!], false, from);
  const one05 = frames(1, {
    code: '05',
    src: sender!.number,
    dst: victim!.number,
    ts: ts(),
    data: 'offline flood',
  });
  return async () => {
    const tally = new Tally();
    tally.facts.recipient = victim!.number;
    tally.facts.sessions = conns.length;
    const until = now() + env.durationMs;
    await Promise.all(conns.map((c) => windowFlood(c, one05, 256, until, env.signal, tally)));
    await sleep(500, env.signal);
    for (const c of conns) c.destroy();
    return tally.report();
  };
}

/** `10` (15 other members) as fast as answered on one session, `05` to a 16-member group on another. */
async function groupFlood(env: AttackEnv): Promise<Prepared> {
  const from = attackerAddress(0);
  const [creator, ...members] = await register(env.port, 16, from);
  const { conns } = await openSessions(env.port, [creator!, creator!], false, from);
  const [groups, sends] = conns as [WireConn, WireConn];
  const memberData = members.map((m) => m.number).join('');
  const group = await new Promise<string | undefined>((resolve) => {
    groups.onFrame = (f) => resolve(f.code === '11' ? f.dst : undefined);
    groups.send({ code: '10', src: creator!.number, ts: ts(), data: memberData });
    setTimeout(() => resolve(undefined), 5_000);
  });
  if (!group) throw new Error('group-flood: the first group was not created');
  const one10 = frames(1, { code: '10', src: creator!.number, ts: ts(), data: memberData });
  const one05 = frames(1, {
    code: '05',
    src: creator!.number,
    dst: group,
    ts: ts(),
    data: 'group flood',
  });
  return async () => {
    const tally = new Tally();
    tally.facts.member = members[0]!.number;
    const until = now() + env.durationMs;
    await Promise.all([
      windowFlood(groups, one10, 64, until, env.signal, tally),
      windowFlood(sends, one05, 256, until, env.signal, tally),
    ]);
    await sleep(500, env.signal);
    groups.destroy();
    sends.destroy();
    return tally.report();
  };
}

/**
 * Legacy `10` with 5,000 members (one a registered user, the rest random
 * numbers nobody holds), then legacy `05`s to it, two at a time.
 */
async function legacyBigGroup(env: AttackEnv): Promise<Prepared> {
  const [member] = await register(env.port, 1, attackerAddress(0));
  const others = Array.from({ length: 4_999 }, randomNumber);
  const request10 = Buffer.from(`10${tsField(ts())}${member!.number}${others.join('')}`, 'latin1');
  return async () => {
    const tally = new Tally();
    const created = await legacyRequest(env.legacyPort!, request10, 30_000, attackerAddress(0));
    tally.facts.createMs = Math.round(created.ms);
    // Legacy 10 has no answer: the member learns the group from its notice (03).
    const poll = await legacyRequest(
      env.legacyPort!,
      Buffer.from(`03${member!.number}`, 'latin1'),
      30_000,
      attackerAddress(0),
    );
    tally.facts.pollMs = Math.round(poll.ms);
    // A notice names the group; a bare `06` means nothing pending (the 10 refused); nothing at all, no answer.
    tally.facts.pollAnswer =
      poll.answer.length === 0
        ? 'closed without an answer'
        : poll.answer.length === 2
          ? 'nothing pending'
          : 'a notice';
    const group =
      poll.answer.length >= 15 && poll.answer.toString('latin1', 0, 2) === '06'
        ? poll.answer.toString('latin1', 2, 15)
        : undefined;
    tally.facts.groupCreated = group !== undefined;
    // The sends to the group get half the attack's time, counted once the group is known (the 10 itself can take seconds).
    const t0 = now();
    if (group) {
      const send = Buffer.from(`05${member!.number}${group}${tsField(ts())}legacy flood`, 'latin1');
      await Promise.all(
        Array.from({ length: 2 }, async () => {
          while (!env.signal.aborted && now() - t0 < env.durationMs / 2) {
            const r = await legacyRequest(env.legacyPort!, send, 10_000, attackerAddress(0));
            tally.count(r.ok ? 'sends' : 'sendsFailed');
            tally.ms('send', r.ms);
          }
        }),
      );
    } else await sleep(env.durationMs / 2, env.signal);
    return tally.report();
  };
}

/**
 * Wrong-token `POST /v1/messages` naming a victim, up to 11,900/s from 32
 * connections of the attacker's address, while the victim sends valid ones
 * at 20/s from its own: the share of the victim's sends refused `429`.
 */
async function wrongTokenHttp(env: AttackEnv): Promise<Prepared> {
  const [victim, friend] = await register(env.port, 2);
  const body = `{"to":"${friend!.number}","text":"x","receipts":false}`;
  const wrong = httpRequest('POST', '/v1/messages', body, {
    Authorization: `Bearer ${victim!.number}:not-the-token`,
  });
  const valid = httpRequest('POST', '/v1/messages', body, {
    Authorization: `Bearer ${victim!.number}:${victim!.token}`,
  });
  const pipes = Array.from({ length: 32 }, () => new HttpPipe(env.httpPort!, attackerAddress(0)));
  return async () => {
    const tally = new Tally();
    const until = now() + env.durationMs;
    let victimPipe = new HttpPipe(env.httpPort!);
    const victimTimer = setInterval(() => {
      if (victimPipe.closed) victimPipe = new HttpPipe(env.httpPort!);
      victimPipe.request(valid, (a) => tally.count(`victim:${a.status}`));
    }, 50);
    await httpFlood(
      pipes,
      () => wrong,
      32,
      until,
      env.signal,
      (s) => tally.count(`attacker:${s}`),
      11_900,
    );
    clearInterval(victimTimer);
    await sleep(1_000);
    victimPipe.destroy();
    for (const p of pipes) p.destroy();
    return tally.report();
  };
}

/**
 * Wrong-token `04` naming a victim from 32 connections of the attacker's
 * address, as fast as answered (a new connection when the server closes one);
 * meanwhile the victim opens a session with its real token.
 */
async function wrongToken04(env: AttackEnv): Promise<Prepared> {
  const [victim] = await register(env.port, 1);
  const wrong = frames(1, { code: '04', src: victim!.number, flag: false, data: 'not-the-token' });
  return async () => {
    const tally = new Tally();
    const t0 = now();
    const until = t0 + env.durationMs;
    const lane = async () => {
      while (!env.signal.aborted && now() < until) {
        const conn = new WireConn(env.port, attackerAddress(0));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => conn.destroy(), Math.max(0, until - now()) + 100);
          conn.onFrame = (f) => {
            tally.frame(f);
            if (now() < until && !env.signal.aborted) conn.write(wrong);
            else conn.destroy();
          };
          conn.onClose = () => {
            clearTimeout(timer);
            if (conn.connectedAt === undefined)
              tally.count(`connectFailed:${conn.error ?? 'closed'}`);
            resolve();
          };
          conn.write(wrong);
        });
      }
    };
    const victimTry = (async () => {
      await sleep(env.durationMs / 2, env.signal);
      const v0 = now();
      try {
        (await openSession(env.port, victim!, false, undefined, 2_000)).destroy();
        tally.facts.victimSession = `opened in ${Math.round(now() - v0)} ms`;
      } catch (err) {
        tally.facts.victimSession = err instanceof Error ? err.message : String(err);
      }
    })();
    await Promise.all([...Array.from({ length: 32 }, lane), victimTry]);
    return tally.report();
  };
}

/** Every attack of the table, by name. The ones without `run` are driven by the tool itself (bench/attack.ts). */
export const ATTACKS: Record<string, AttackerSpec> = {
  'pipeline-19-noread': { run: pipeline19NoRead },
  'pipeline-05': { run: pipeline05(true) },
  'pipeline-05-noread': { run: pipeline05(false) },
  'pipeline-03': { run: pipeline03 },
  'lone-surrogate': { run: loneSurrogate },
  'idle-sockets': { run: idleSockets, processes: IDLE_PROCESSES },
  'slow-http': { run: slowHttp },
  'register-flood': { run: registerFlood },
  'offline-flood': { run: offlineFlood },
  'group-flood': { run: groupFlood },
  'legacy-big-group': { run: legacyBigGroup, legacy: true },
  'wrong-token-http': { run: wrongTokenHttp },
  'wrong-token-04': { run: wrongToken04 },
  'two-servers': {},
  'corrupt-db': {},
};
