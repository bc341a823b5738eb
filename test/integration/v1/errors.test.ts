/**
 * docs/protocol.md §Frame (malformed frames) and §Codes (error statuses, which of
 * them close, the order in which checks are made, and the fields a 09 echoes).
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, NOBODY } from '../../../src/protocol/index.js';
import {
  ack,
  expectError,
  expectErrorAndClose,
  expectStillServed,
  message,
  rawFrame,
  receive,
  sendStored,
  T0,
  unknownNumber,
  useServer,
} from '../../helpers/v1.js';

const env = useServer();

const SRC = '5500000000001';
const DST = '5500000000002';

/** Malformed frames: a valid 05 from SRC to DST with one field broken. `echo`: the fields a 09 can still echo. */
const MALFORMED: [string, Buffer, { src?: string; dst?: string; ts?: number }][] = [
  [
    'a code that is not digits',
    rawFrame(message(SRC, DST, 'x', { ts: T0 }), (b) => b.write('0a', 0, 'latin1')),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'an unknown code (99)',
    rawFrame(message(SRC, DST, 'x', { ts: T0 }), (b) => b.write('99', 0, 'latin1')),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'an unknown code (00)',
    rawFrame(message(SRC, DST, 'x', { ts: T0 }), (b) => b.write('00', 0, 'latin1')),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'a src that is not 13 digits',
    rawFrame(message(SRC, DST, 'x', { ts: T0 }), (b) => (b[5] = 0x41)),
    { dst: DST, ts: T0 },
  ],
  [
    'a dst with a space',
    rawFrame(message(SRC, DST, 'x', { ts: T0 }), (b) => (b[20] = 0x20)),
    { src: SRC, ts: T0 },
  ],
  [
    'a ts with a non-digit',
    rawFrame(message(SRC, DST, 'x', { ts: T0 }), (b) => (b[37] = 0x2d)),
    { src: SRC, dst: DST },
  ],
  [
    'a flag of 2',
    rawFrame(message(SRC, DST, 'x', { ts: T0 }), (b) => (b[38] = 0x32)),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'a flag of 0x00',
    rawFrame(message(SRC, DST, 'x', { ts: T0 }), (b) => (b[38] = 0)),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'data that is not UTF-8 (0xff)',
    rawFrame(message(SRC, DST, 'ab', { ts: T0 }), (b) => (b[40] = 0xff)),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'data ending in a cut UTF-8 sequence',
    rawFrame(message(SRC, DST, 'ab', { ts: T0 }), (b) => b.set([0xe2, 0x82], 41)),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'data with an overlong UTF-8 encoding',
    rawFrame(message(SRC, DST, 'ab', { ts: T0 }), (b) => b.set([0xc0, 0xaf], 39)),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'data with a UTF-16 surrogate encoded in UTF-8',
    rawFrame(message(SRC, DST, 'abc', { ts: T0 }), (b) => b.set([0xed, 0xa0, 0x80], 39)),
    { src: SRC, dst: DST, ts: T0 },
  ],
  [
    'data with a 0x00 before its padding ends',
    rawFrame(message(SRC, DST, 'abc', { ts: T0 }), (b) => (b[40] = 0)),
    { src: SRC, dst: DST, ts: T0 },
  ],
];

/** Frames in the codes table that only the server sends. */
const SERVER_ONLY = ['02', '06', '07', '09', '11', '20'] as const;

describe('docs/protocol.md §Frame: a malformed frame is answered 09 400 and the connection is closed', () => {
  it.each(MALFORMED)('on an anonymous connection: %s', async (_what, bytes, echo) => {
    const c = await env.connect();
    c.sendRaw(bytes);
    await expectErrorAndClose(c, 400, echo);
  });

  it.each(MALFORMED)('in an open session: %s', async (_what, bytes) => {
    const alice = await env.user();
    const c = await env.session(alice);
    c.sendRaw(bytes);
    await expectErrorAndClose(c, 400);
  });

  it('answers the first malformed frame and ignores whatever follows it on the connection', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    a.sendRaw(
      Buffer.concat([
        MALFORMED[6]![1],
        encodeFrame(message(alice.number, bob.number, 'after the bad one')),
      ]),
    );
    await expectErrorAndClose(a, 400);
    const b = await env.session(bob);
    expect(await b.silentFor(200)).toBe(true);
  });
});

describe('docs/protocol.md §Codes: a code that only the server sends is malformed (400) and closes', () => {
  it.each(SERVER_ONLY)(
    'answers %s from an anonymous connection with 400, not 401 (the frame is checked before the state)',
    async (code) => {
      const c = await env.connect();
      c.send({ code, src: SRC, dst: DST, ts: T0, data: '1' });
      await expectErrorAndClose(c, 400, { src: SRC, dst: DST, ts: T0 });
    },
  );

  it.each(SERVER_ONLY)('answers %s in an open session with 400 and closes', async (code) => {
    const alice = await env.user();
    const c = await env.session(alice);
    c.send({ code, src: alice.number, dst: alice.number, ts: T0, data: '1' });
    await expectErrorAndClose(c, 400, { src: alice.number, dst: alice.number, ts: T0 });
  });
});

describe('docs/protocol.md §Frame: nothing already stored is lost when a connection is closed for a malformed frame', () => {
  it('delivers a message stored (07) before its sender sent a malformed frame', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    await sendStored(a, message(alice.number, bob.number, 'kept', { ts: T0 + 1 }));
    a.sendRaw(MALFORMED[1]![1]);
    await expectErrorAndClose(a, 400);
    const b = await env.session(bob);
    expect((await receive(b, 1))[0]).toMatchObject({ src: alice.number, data: 'kept', ts: T0 + 1 });
  });

  it('stores and answers a 05 written in the same chunk just before a malformed frame, then 400', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    a.sendRaw(
      Buffer.concat([
        encodeFrame(message(alice.number, bob.number, 'just before', { ts: T0 + 2 })),
        MALFORMED[8]![1],
      ]),
    );
    expect(await a.next()).toMatchObject({ code: '07', ts: T0 + 2 });
    await expectErrorAndClose(a, 400);
    const b = await env.session(bob);
    expect((await receive(b, 1))[0]!.data).toBe('just before');
  });

  it('keeps a pushed but unacknowledged message of a recipient closed for a malformed frame, and delivers it again', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(a, message(alice.number, bob.number, 'survives'));
    await receive(b, 1);
    b.sendRaw(MALFORMED[0]![1]);
    await expectErrorAndClose(b, 400);
    const b2 = await env.session(bob);
    expect((await receive(b2, 1))[0]!.data).toBe('survives');
  });

  it('keeps the messages a malformed 08 would have acknowledged', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(a, message(alice.number, bob.number, 'm'));
    await receive(b, 1);
    b.sendRaw(rawFrame({ code: '08', src: bob.number, data: '1' }, (bytes) => (bytes[38] = 0x39)));
    await expectErrorAndClose(b, 400);
    const b2 = await env.session(bob);
    expect((await receive(b2, 1))[0]!.data).toBe('m');
  });
});

describe('docs/protocol.md §Codes: a 09 echoes the src, dst and ts of the frame that caused it; only 400, 401 and 409 close', () => {
  it('keeps the connection open after 403, 404 and 413, answering each in turn', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const stranger = unknownNumber();
    a.send(message(bob.number, alice.number, 'spoof', { ts: T0 + 1 }));
    expectError(await a.next(), 403, { src: bob.number, dst: alice.number, ts: T0 + 1 });
    a.send(message(alice.number, stranger, 'nobody', { ts: T0 + 2 }));
    expectError(await a.next(), 404, { src: alice.number, dst: stranger, ts: T0 + 2 });
    // 01 inside a session: 413 checked on the name.
    a.send({ code: '01', src: alice.number, ts: T0 + 3, data: 'n'.repeat(65) });
    expectError(await a.next(), 413, { src: alice.number, ts: T0 + 3 });
    await expectStillServed(a, alice.number);
  });
});

describe('docs/protocol.md §Codes: checks are made in order: the frame (400), the state (401), src (403), the request (404, 413, 429)', () => {
  it('answers a malformed frame with a foreign src in a session 400, not 403', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    a.sendRaw(rawFrame(message(bob.number, alice.number, 'x'), (b) => (b[38] = 0x37)));
    await expectErrorAndClose(a, 400);
  });

  it('answers an anonymous 05 to an unknown number 401, not 404', async () => {
    const alice = await env.user();
    const c = await env.connect();
    c.send(message(alice.number, unknownNumber(), 'x'));
    await expectErrorAndClose(c, 401);
  });

  it('answers a 05 with a foreign src to an unknown number 403, not 404', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    a.send(message(bob.number, unknownNumber(), 'x'));
    expectError(await a.next(), 403);
  });

  it('answers an 08 with a foreign src 403 before looking at its count', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    ack(a, bob.number, 99);
    expectError(await a.next(), 403);
    await expectStillServed(a, alice.number);
  });

  it('answers a 10 with a foreign src and an unknown member 403, not 404', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    a.send({ code: '10', src: bob.number, ts: T0, data: unknownNumber() });
    expectError(await a.next(), 403);
  });

  it('answers a 09 about a frame of nobody with src 0000000000000', async () => {
    const c = await env.connect();
    c.send({ code: '03' });
    await expectErrorAndClose(c, 401, { src: NOBODY });
  });
});
