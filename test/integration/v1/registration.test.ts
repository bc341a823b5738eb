/**
 * docs/protocol.md §Codes (01/02, 19/20) and §Sessions (what an anonymous
 * connection may send), over real TCP.
 */
import { describe, expect, it } from 'vitest';
import { NOBODY } from '../../../src/protocol/index.js';
import {
  expectError,
  expectErrorAndClose,
  message,
  T0,
  unknownNumber,
  useServer,
} from '../../helpers/v1.js';

const env = useServer();

describe('docs/protocol.md §Codes 01 -> 02: registration', () => {
  it('answers 01 with 02 whose dst is the new 13-digit number and whose data is the secret token; other fields are zero', async () => {
    const c = await env.connect();
    c.send({ code: '01', data: 'alice' });
    const answer = await c.next();
    expect(answer).toMatchObject({ code: '02', src: NOBODY, ts: 0, flag: false });
    expect(answer.dst).toMatch(/^[0-9]{13}$/);
    expect(answer.dst).not.toBe(NOBODY);
    expect(answer.data.length).toBeGreaterThan(0);
  });

  it('gives every registration a different number and a different token, also several on one connection', async () => {
    const c = await env.connect();
    for (let i = 0; i < 10; i++) c.send({ code: '01', data: `u${i}` });
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await c.next());
    const parallel = await env.users(10);
    const numbers = [...answers.map((a) => a.dst), ...parallel.map((p) => p.number)];
    const tokens = [...answers.map((a) => a.data), ...parallel.map((p) => p.token)];
    expect(answers.every((a) => a.code === '02')).toBe(true);
    expect(new Set(numbers).size).toBe(20);
    expect(new Set(tokens).size).toBe(20);
  });

  it('accepts an empty display name (the name is optional) and one of exactly 64 bytes', async () => {
    const c = await env.connect();
    c.send({ code: '01' });
    expect((await c.next()).code).toBe('02');
    c.send({ code: '01', data: 'é'.repeat(32) }); // 64 bytes
    expect((await c.next()).code).toBe('02');
    c.send({ code: '01', data: 'x'.repeat(64) });
    expect((await c.next()).code).toBe('02');
  });

  it('answers a display name over 64 bytes with 09 413 echoing the frame, and keeps the connection open', async () => {
    const c = await env.connect();
    c.send({ code: '01', ts: T0, data: 'x'.repeat(65) });
    expectError(await c.next(), 413, { ts: T0 });
    // Only 400, 401 and 409 close: the same connection can still register.
    c.send({ code: '01', data: 'short' });
    expect((await c.next()).code).toBe('02');
    expect(c.closed).toBe(false);
  });

  it('counts the display name in UTF-8 bytes: 33 two-byte characters (66 bytes) are 413', async () => {
    const c = await env.connect();
    c.send({ code: '01', data: 'é'.repeat(33) });
    expectError(await c.next(), 413);
  });

  it('gives a number and token that open a session (04 -> 04 ok)', async () => {
    const alice = await env.user('alice');
    const c = await env.session(alice);
    expect(c.closed).toBe(false);
  });
});

describe('docs/protocol.md §Sessions: an anonymous connection may send only 01, 04 and 19', () => {
  it.each([
    ['03 poll', '03'],
    ['05 send', '05'],
    ['08 ack', '08'],
    ['10 create group', '10'],
  ] as const)(
    'answers %s before 04 with 09 401, echoing the frame, and closes',
    async (_name, code) => {
      const alice = await env.user();
      const bob = await env.user();
      const c = await env.connect();
      const data = code === '08' ? '0' : code === '10' ? bob.number : code === '05' ? 'hi' : '';
      c.send({ code, src: alice.number, dst: bob.number, ts: T0 + 7, data });
      await expectErrorAndClose(c, 401, { src: alice.number, dst: bob.number, ts: T0 + 7 });
    },
  );

  it('keeps a connection anonymous after 01: registering does not open a session', async () => {
    const c = await env.connect();
    c.send({ code: '01', data: 'me' });
    const me = await c.next();
    c.send(message(me.dst, me.dst, 'to myself', { ts: T0 }));
    await expectErrorAndClose(c, 401, { src: me.dst, dst: me.dst, ts: T0 });
  });

  it('serves 01 and 19 in any number before 04, then 04', async () => {
    const alice = await env.user();
    const c = await env.connect();
    c.send({ code: '19', dst: alice.number });
    c.send({ code: '01' });
    c.send({ code: '19', dst: alice.number });
    c.send({ code: '04', src: alice.number, flag: true, data: alice.token });
    const [a, b, d, e] = [await c.next(), await c.next(), await c.next(), await c.next()];
    expect([a.code, b.code, d.code, e.code]).toEqual(['20', '02', '20', '04']);
    expect(e.data).toBe('ok');
  });
});

describe('docs/protocol.md §Codes 19 -> 20: is this number valid?', () => {
  it('answers 1 for a registered user, with dst the number asked about', async () => {
    const alice = await env.user();
    const c = await env.connect();
    c.send({ code: '19', dst: alice.number });
    expect(await c.next()).toMatchObject({
      code: '20',
      src: NOBODY,
      dst: alice.number,
      ts: 0,
      data: '1',
    });
  });

  it('answers 1 for a group', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    a.send({ code: '10', src: alice.number, ts: T0, data: bob.number });
    const created = await a.next();
    expect(created.code).toBe('11');
    const c = await env.connect();
    c.send({ code: '19', dst: created.dst });
    expect(await c.next()).toMatchObject({ code: '20', dst: created.dst, data: '1' });
  });

  it('answers 0 for an unknown number and for 0000000000000 (nobody)', async () => {
    const c = await env.connect();
    const unknown = unknownNumber();
    c.send({ code: '19', dst: unknown });
    expect(await c.next()).toMatchObject({ code: '20', dst: unknown, data: '0' });
    c.send({ code: '19', dst: NOBODY });
    expect(await c.next()).toMatchObject({ code: '20', dst: NOBODY, data: '0' });
  });

  it('answers 19 inside a session too', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice, false);
    a.send({ code: '19', src: alice.number, dst: bob.number });
    expect(await a.next()).toMatchObject({ code: '20', dst: bob.number, data: '1' });
    a.send({ code: '19', src: alice.number, dst: unknownNumber() });
    expect(await a.next()).toMatchObject({ code: '20', data: '0' });
  });
});
