/**
 * A Session on a fake host port: no threads, no sockets. The fake records what
 * the session writes for the main thread (answers by slot, an ending 09,
 * credit) and what it asks or tells the broker, and lets the test answer each
 * request, in any order.
 *
 * Its typing is deliberately loose (requests by `op`, replies as `unknown`):
 * these tests are about the session's rules, not about the shape of each
 * broker reply, which thread-messages.ts owns.
 */
import { pino } from 'pino';
import { expect } from 'vitest';
import { Code } from '../../../../src/protocol/codes.js';
import {
  decodeFrame,
  encodeFrame,
  FRAME_SIZE,
  type Frame,
  type FrameInit,
} from '../../../../src/protocol/frame.js';
import { Session, type SessionHostPort } from '../../../../src/server/session-host/session.js';
import type { Result } from '../../../../src/server/threads/broker-client.js';
import type {
  AskOp,
  AskRequest,
  HostOptions,
} from '../../../../src/server/threads/thread-messages.js';

export const SID = 7;
export const ALICE = '1000000000001';
export const BOB = '1000000000002';
export const TOKEN = 'a'.repeat(32);

/** A broker request as the fake saw it: its `op` and whatever fields it has. */
export interface LooseRequest {
  readonly op: string;
  readonly [field: string]: unknown;
}

/** A reply as a test gives it; the session's handlers decide what `value` must be. */
type LooseResult = { ok: true; value: unknown } | { ok: false; status: number; reason: string };

/** An answer written for the main thread: the slot it fills and its frames, decoded. */
export interface WrittenAnswer {
  slot: number;
  frames: Frame[];
  close: boolean;
}

interface PendingRequest {
  request: LooseRequest;
  reply: (result: LooseResult) => void;
  answered: boolean;
}

export class FakeHostPort implements SessionHostPort {
  /** Requests asked (a reply expected), oldest first, answered or not. */
  private readonly asked: PendingRequest[] = [];
  /** Requests told (no reply), in order; `later` marks the ones allowed to wait for company (08). */
  readonly told: { request: LooseRequest; later: boolean }[] = [];
  readonly answers: WrittenAnswer[] = [];
  /** 09s that end the connection, with the slot they wait for (undefined: at once). */
  readonly ends: { frame: Frame; after: number | undefined }[] = [];
  /** Frames finished without an answer, summed. */
  credited = 0;
  readonly metrics = undefined;

  /** The reply is whatever the test gives (loose, see above); the session's handler reads it as the op's type. */
  request<O extends AskOp>(request: AskRequest<O>, onReply: (result: Result<O>) => void): void {
    this.asked.push({
      request: request as LooseRequest,
      reply: onReply as (result: LooseResult) => void,
      answered: false,
    });
  }

  notify(request: LooseRequest): void {
    this.told.push({ request, later: false });
  }

  notifyLater(request: LooseRequest): void {
    this.told.push({ request, later: true });
  }

  answer(sid: number, slot: number, frames: Buffer | readonly Buffer[], close: boolean): void {
    expectSid(sid);
    this.answers.push({ slot, frames: decodeAll(frames), close });
  }

  endConnection(sid: number, frame: Buffer, after: number | undefined): void {
    expectSid(sid);
    this.ends.push({ frame: decodeFrame(frame), after });
  }

  credit(sid: number, frames: number): void {
    expectSid(sid);
    this.credited += frames;
  }

  /** The requests asked so far, answered or not, oldest first. */
  get requests(): LooseRequest[] {
    return this.asked.map((pending) => pending.request);
  }

  /** The `op`s of the requests still waiting for a reply, oldest first. */
  get waiting(): string[] {
    return this.asked.filter((pending) => !pending.answered).map((pending) => pending.request.op);
  }

  /** Answers an unanswered request `op` (the oldest, or the `nth` oldest) with `value`. */
  reply(op: string, value: unknown, nth = 0): void {
    this.take(op, nth).reply({ ok: true, value });
  }

  /** Fails an unanswered request `op` with a status, as the broker does. */
  refuse(op: string, status: number, reason: string, nth = 0): void {
    this.take(op, nth).reply({ ok: false, status, reason });
  }

  /** The one answer written for `slot`. */
  answerOf(slot: number): WrittenAnswer {
    const found = this.answers.filter((answer) => answer.slot === slot);
    if (found.length !== 1) throw new Error(`${found.length} answers for slot ${slot}`);
    return found[0]!;
  }

  private take(op: string, nth: number): PendingRequest {
    const pending = this.asked.filter((p) => !p.answered && p.request.op === op)[nth];
    if (!pending) throw new Error(`no ${op} request waits for a reply (waiting: ${this.waiting})`);
    pending.answered = true;
    return pending;
  }
}

function expectSid(sid: number): void {
  if (sid !== SID) throw new Error(`written for connection ${sid}, not ${SID}`);
}

function decodeAll(frames: Buffer | readonly Buffer[]): Frame[] {
  const bytes = Buffer.isBuffer(frames) ? frames : Buffer.concat(frames as Buffer[]);
  const out: Frame[] = [];
  for (let offset = 0; offset < bytes.length; offset += FRAME_SIZE)
    out.push(decodeFrame(bytes.subarray(offset, offset + FRAME_SIZE)));
  return out;
}

const OPTIONS: HostOptions = {
  pollBatch: 100,
  logLevel: 'silent',
  anonymousTimeoutMs: 10_000,
  maxInflight: 32,
};

/** A session of connection SID on a fresh fake port. */
export function newSession(options: Partial<HostOptions> = {}): {
  session: Session;
  port: FakeHostPort;
} {
  const port = new FakeHostPort();
  const session = new Session(
    SID,
    port,
    { ...OPTIONS, ...options },
    pino({ level: 'silent' }),
    '192.0.2.1:40000',
    '192.0.2.1',
  );
  return { session, port };
}

/** The status a 09 carries (its data starts with it). */
export function statusOf(frame: { code: string; data: string }): number {
  expect(frame.code).toBe(Code.Error);
  return Number(frame.data.slice(0, 3));
}

/** Frames as one read from the socket. */
export function bytesOf(...frames: (FrameInit | Buffer)[]): Buffer {
  return Buffer.concat(frames.map((f) => (Buffer.isBuffer(f) ? f : encodeFrame(f))));
}

/** A session whose 04 (push) the broker accepted: its first answer slot (0) is the 04's. */
export function openedSession(options: Partial<HostOptions> = {}): {
  session: Session;
  port: FakeHostPort;
} {
  const opened = newSession(options);
  opened.session.receive(bytesOf({ code: '04', src: ALICE, flag: true, data: TOKEN }));
  opened.port.reply('open', null);
  return opened;
}
